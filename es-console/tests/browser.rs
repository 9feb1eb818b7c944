//! The console in a real headless Chromium, driven through WebDriver: each
//! test seeds a store of its own with the sample, serves the console on a
//! free port and starts chromedriver on another.
//!
//! They need PostgreSQL (`DATABASE_URL`, default the local server) and the
//! Debian packages `chromium` and `chromium-driver`; without either they
//! fail and say how to get it.

#[path = "../examples/console/sample.rs"]
mod sample;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_console::Console;
use es_core::Repository;
use es_examples::account::Account;
use es_postgres::PgEventStore;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const TOKEN: &str = "browser-test-token";

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

/// Test schemas are named `es_console_test_<unix seconds>_<nanos>`; those
/// older than an hour are left-overs of failed runs and dropped.
const PREFIX: &str = "es_console_test_";

/// A seeded store, the console serving it, and a browser looking at it.
struct Harness {
    store: PgEventStore,
    console: SocketAddr,
    browser: Client,
    _driver: Child,
}

impl Harness {
    async fn start() -> Harness {
        let store = seeded_store().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port for the console");
        let console = listener.local_addr().unwrap();
        let projection_store = store.clone();
        let served = Console::new(store.clone())
            .aggregate::<Account>()
            .aggregate::<sample::Customer>()
            .projection(move || sample::Deposits::new(&projection_store))
            .token(TOKEN);
        tokio::spawn(served.serve_on(listener));
        let (driver, browser) = browser().await;
        Harness { store, console, browser, _driver: driver }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.console)
    }

    async fn open(&self, path: &str) {
        self.browser.goto(&self.url(path)).await.expect("the page loads");
    }

    /// The text of the first element at `xpath`, once there is one.
    async fn wait_for(&self, xpath: &str) -> String {
        let found = self.browser.wait().at_most(PATIENCE).for_element(Locator::XPath(xpath)).await;
        let element = found.unwrap_or_else(|e| panic!("nothing at {xpath} within {PATIENCE:?}: {e}"));
        element.text().await.expect("the element's text")
    }

    async fn click(&self, css: &str) {
        self.browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).click().await.unwrap();
    }

    async fn finish(self) {
        self.browser.close().await.expect("the browser session closes");
        drop_schema(&self.store).await;
    }
}

#[tokio::test]
async fn stepping_to_version_3_shows_the_state_and_its_diff() {
    let h = Harness::start().await;
    h.open("/streams/acc-1").await;
    h.click("#state-3").await;
    assert_eq!(h.wait_for("//span[@id='state-version' and text()='3']").await, "3");
    let state: serde_json::Value = serde_json::from_str(&h.wait_for("//pre[@id='state-after']").await).unwrap();
    assert_eq!(state, json!({ "owner": "Ann", "balance": 750, "closed": false }));
    let change = h.wait_for("//table[@id='diff']//tr[td[1]='/balance']").await;
    assert_eq!(change, "/balance 500 750");
    assert_eq!(h.browser.current_url().await.unwrap().as_str(), h.url("/streams/acc-1?version=3"));
    if let Ok(path) = std::env::var("ES_CONSOLE_SCREENSHOT") {
        std::fs::write(&path, h.browser.screenshot().await.unwrap()).expect("the screenshot is written");
    }
    h.finish().await;
}

#[tokio::test]
async fn a_slice_freezes_into_a_given_when_then_test() {
    let h = Harness::start().await;
    h.open("/streams/acc-1").await;
    let from = h.browser.find(Locator::Css("form.freeze input[name=from]")).await.unwrap();
    from.clear().await.unwrap();
    from.send_keys("3").await.unwrap();
    let to = h.browser.find(Locator::Css("form.freeze input[name=to]")).await.unwrap();
    to.clear().await.unwrap();
    to.send_keys("4").await.unwrap();
    h.click("form.freeze button").await;
    let test = h.wait_for("//pre[@id='test']").await;
    let decode = "let payload = es_core::Payload::from_json(payload.to_owned());\n        \
                  <es_examples::account::AccountEvent>::decode(name, schema_version, &payload)";
    assert!(test.contains(decode), "{test}");
    let given = "es_core::testing::given::<es_examples::account::Account>([\n        \
                 event(\"Opened\", 1, r#\"{\"owner\":\"Ann\"}\"#),\n        \
                 event(\"Deposited\", 1, r#\"{\"amount\":500}\"#),\n    ])";
    assert!(test.contains(given), "{test}");
    let then = ".then([\n        \
                event(\"Deposited\", 1, r#\"{\"amount\":250}\"#),\n        \
                event(\"Withdrew\", 1, r#\"{\"amount\":100}\"#),\n    ]);";
    assert!(test.contains(then), "{test}");
    h.finish().await;
}

#[tokio::test]
async fn an_old_event_shows_its_upcast_steps() {
    let h = Harness::start().await;
    h.open("/streams/cust-1").await;
    h.click("#upcast-1").await;
    assert_eq!(h.wait_for("//code[@class='step-name']").await, "split_full_name");
    let steps = h.browser.find_all(Locator::Css("#steps li.step pre")).await.unwrap();
    let mut shown = Vec::new();
    for step in steps {
        shown.push(serde_json::from_str::<serde_json::Value>(&step.text().await.unwrap()).unwrap());
    }
    let split = json!({ "first": "Ann", "last": "Lee" });
    assert_eq!(shown, [json!({ "full_name": "Ann Lee" }), split.clone(), split]);
    h.finish().await;
}

#[tokio::test]
async fn a_script_in_a_payload_is_shown_as_text_and_never_runs() {
    let h = Harness::start().await;
    h.open("/streams/acc-2").await;
    let payload = h.wait_for("//tr[@id='event-1']//pre").await;
    assert!(payload.contains(sample::SCRIPT_OWNER), "the payload shows the markup as text: {payload}");
    h.open("/tail").await;
    h.wait_for("//tr[contains(., 'acc-2') and contains(., 'alert(1)')]").await;
    assert!(h.browser.get_alert_text().await.is_err(), "no alert is open");
    let scripts = h.browser.execute("return document.querySelectorAll('main script').length", vec![]).await;
    assert_eq!(scripts.unwrap(), json!(0));

    let headers = raw_get(h.console, "/streams/acc-2").await;
    assert!(headers.contains("content-security-policy: default-src 'none'; script-src 'self';"), "{headers}");
    h.finish().await;
}

#[tokio::test]
async fn retrying_a_parked_event_needs_the_token() {
    let h = Harness::start().await;
    let parked = h.store.parked_events("deposits").await.unwrap();
    let [event] = parked.as_slice() else { panic!("the sample parks one deposit: {parked:?}") };
    h.open("/projections/deposits/parked").await;
    let retry = format!("#parked-{} button.action", event.id);

    h.click(&retry).await;
    assert_eq!(
        h.browser.get_alert_text().await.unwrap(),
        format!("Hand parked event {} to `deposits` once more?", event.id)
    );
    h.browser.accept_alert().await.unwrap();
    let refused = h.wait_for("//div[@id='outcome']/p").await;
    assert_eq!(refused, "the token is missing or wrong: type the token the console was started with");
    assert_eq!(h.store.parked_events("deposits").await.unwrap().len(), 1, "still parked");

    release_held_account(&h.store).await;
    h.browser.find(Locator::Css("#token")).await.unwrap().send_keys(TOKEN).await.unwrap();
    h.click(&retry).await;
    h.browser.accept_alert().await.unwrap();
    let done = h.wait_for("//div[@id='outcome']/p[@class='done']").await;
    assert_eq!(done, format!("Parked event {} was handled by `deposits` and is no longer parked.", event.id));
    assert!(h.store.parked_events("deposits").await.unwrap().is_empty());
    h.finish().await;
}

#[tokio::test]
async fn the_live_tail_shows_an_event_appended_while_it_is_open() {
    let h = Harness::start().await;
    h.open("/tail").await;
    h.wait_for("//tr[contains(., 'cust-1')]").await;
    let accounts = Repository::<Account, _>::new(h.store.clone());
    accounts.execute("acc-1", |a| a.deposit(31_337)).await.unwrap();
    let row = h.wait_for("//tr[contains(., '31337')]").await;
    assert!(row.contains("acc-1 5 Deposited"), "{row}");
    h.finish().await;
}

/// A migrated store in a schema of its own, filled with the sample.
async fn seeded_store() -> PgEventStore {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let schema = format!("{PREFIX}{}_{}", now.as_secs(), now.subsec_nanos());
    let store = PgEventStore::builder_from_url(&url).unwrap().schema(&schema).pool_size(4).build().unwrap();
    let client = store.connection().await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {url}: {e}\nStart the local server with\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point DATABASE_URL at one."
        )
    });
    let stale = client
        .query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", &[&PREFIX])
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.get::<_, String>(0))
        .filter(|name| {
            let secs = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
            secs.is_some_and(|secs| secs + 3600 < now.as_secs())
        });
    for name in stale.collect::<Vec<_>>() {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
    }
    store.migrate().await.unwrap();
    sample::seed(&store).await.unwrap();
    store
}

async fn drop_schema(store: &PgEventStore) {
    let drop = format!("DROP SCHEMA {} CASCADE", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&drop).await.unwrap();
}

/// Lets deposits to the sample's held account through.
async fn release_held_account(store: &PgEventStore) {
    let delete = format!("DELETE FROM {}.held", store.quoted_schema());
    store.connection().await.unwrap().batch_execute(&delete).await.unwrap();
}

/// The status line and headers of a GET, as the server wrote them.
async fn raw_get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// chromedriver on a free port, and a headless Chromium session through it.
async fn browser() -> (Child, Client) {
    let port = StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start chromedriver: {e}\nThe browser tests need Chromium and its WebDriver; install them with\n    \
                 apt-get install -y chromium chromium-driver"
            )
        });
    let capabilities = json!({
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,600"]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else { unreachable!("an object") };
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver listens a moment after it starts: try until it answers.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match ClientBuilder::new(HttpConnector::new()).capabilities(capabilities.clone()).connect(&url).await {
            Ok(client) => return (driver, client),
            Err(e) if tokio::time::Instant::now() > deadline => panic!("chromedriver at {url} gave no session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
