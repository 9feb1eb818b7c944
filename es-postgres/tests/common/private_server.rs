//! PostgreSQL servers of a test's own, for tests that must configure,
//! stop or restart a server: the shared one is never touched.
//!
//! Each runs from a temporary directory on a free port, with a certificate
//! authority and a server certificate for `localhost` made at start (TLS
//! is on when asked). A server is stopped and its directory removed when
//! the test process ends, however it ends: a shell watching the process's
//! pipe does it once the pipe closes. As root (as CI runs), the server runs
//! as the `postgres` user through `runuser`.
// Each test binary uses the part it needs.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The running server.
pub struct PrivateServer {
    pub port: u16,
    /// The PEM file of the certificate authority that signed the server's
    /// certificate (issued for `localhost` only).
    pub ca_file: PathBuf,
    /// Another authority's certificate, which the server's does not chain to.
    pub other_ca_file: PathBuf,
    data: PathBuf,
    dir: PathBuf,
    as_root: bool,
    /// Holds the watcher's stdin open until the process exits.
    _watcher: Mutex<Child>,
}

/// The certificate a private server presents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Certificate {
    /// None: TLS is off.
    None,
    /// One for `localhost` issued by a CA made at start.
    Issued,
    /// One for `localhost` signed by its own key, with `CA:TRUE`, as
    /// `openssl req -x509` makes it; it is its own `ca_file`.
    SelfSigned,
}

/// The test binary's server with TLS on, started on first use.
pub fn server() -> &'static PrivateServer {
    static SERVER: OnceLock<PrivateServer> = OnceLock::new();
    SERVER.get_or_init(|| started(Certificate::Issued))
}

/// The test binary's server with TLS on and a self-signed certificate,
/// started on first use.
pub fn self_signed_server() -> &'static PrivateServer {
    static SERVER: OnceLock<PrivateServer> = OnceLock::new();
    SERVER.get_or_init(|| started(Certificate::SelfSigned))
}

/// A server of the calling test's own, without TLS, that it may stop and
/// start again.
pub fn own_server() -> PrivateServer {
    started(Certificate::None)
}

fn started(certificate: Certificate) -> PrivateServer {
    start(certificate).unwrap_or_else(|e| panic!("cannot start a private PostgreSQL server: {e}"))
}

impl PrivateServer {
    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it (fast shutdown: sessions are ended, as in a restart for an
    /// upgrade or a failover).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]).unwrap_or_else(|e| panic!("cannot stop the server: {e}"));
    }

    /// Starts it again after [`stop`](Self::stop), once it accepts
    /// connections.
    pub fn start(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60", "-l"]).unwrap_or_else(|e| panic!("cannot start the server: {e}"));
    }

    /// Restarts it (fast shutdown, then start).
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60", "-l"])
            .unwrap_or_else(|e| panic!("cannot restart the server: {e}"));
    }

    /// Runs `pg_ctl` on its data directory; a trailing `-l` gets the log.
    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let mut command = server_command(self.as_root, "pg_ctl")?;
        command.args(args);
        if args.last() == Some(&"-l") {
            command.arg(self.dir.join("log"));
        }
        run(command.arg("-D").arg(&self.data))
    }
}

fn start(certificate: Certificate) -> Result<PrivateServer, String> {
    let dir = std::env::temp_dir().join(format!("es-postgres-tls-{}-{:x}", std::process::id(), fastrand::u64(..)));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (ca_file, other_ca_file) = write_certificates(&dir, certificate)?;
    let as_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if as_root {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
    }
    run(server_command(as_root, "initdb")?
        .args(["--auth=trust", "--username=postgres", "--no-sync", "--pgdata"])
        .arg(&data))?;
    let port = free_port()?;
    let settings = format!(
        "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\n\
         ssl = {ssl}\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\nfsync = off\n",
        dir = dir.display(),
        ssl = if certificate == Certificate::None { "off" } else { "on" },
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut f| f.write_all(settings.as_bytes()))
        .map_err(|e| format!("configuring the server: {e}"))?;
    // The shell starts the server, waits for its stdin to close (when this
    // process ends), then stops the server and removes the directory.
    let pg_ctl = binary("pg_ctl")?;
    let script = format!(
        "'{pg_ctl}' -D '{data}' -l '{dir}/log' start >/dev/null 2>&1; cat >/dev/null; \
         '{pg_ctl}' -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{dir}'",
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display()
    );
    let watcher =
        shell(as_root).arg(script).stdin(Stdio::piped()).spawn().map_err(|e| format!("starting the server: {e}"))?;
    wait_until_ready(port, &dir)?;
    Ok(PrivateServer { port, ca_file, other_ca_file, data, dir, as_root, _watcher: Mutex::new(watcher) })
}

/// Writes a CA, a server certificate for `localhost` (and no IP address,
/// so that connecting to 127.0.0.1 is a host name mismatch) with its key,
/// signed by the CA or by itself, and a second CA; returns the server's CA
/// file (its own certificate when self-signed) and the other CA's.
fn write_certificates(dir: &Path, certificate: Certificate) -> Result<(PathBuf, PathBuf), String> {
    let failed = |e: rcgen::Error| format!("making certificates: {e}");
    let authority = |name: &str| -> Result<(CertificateParams, KeyPair, String), String> {
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).map_err(failed)?.pem();
        Ok((params, key, pem))
    };
    let (ca_params, ca_key, ca_pem) = authority("es test CA")?;
    let (_, _, other_ca_pem) = authority("es other CA")?;
    let server_key = KeyPair::generate().map_err(failed)?;
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(failed)?;
    let server_pem = match certificate {
        Certificate::SelfSigned => {
            server_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            server_params.self_signed(&server_key).map_err(failed)?.pem()
        }
        Certificate::None | Certificate::Issued => {
            server_params.signed_by(&server_key, &Issuer::from_params(&ca_params, &ca_key)).map_err(failed)?.pem()
        }
    };
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok::<_, String>(path)
    };
    let server_crt = write("server.crt", &server_pem)?;
    let key = write("server.key", &server_key.serialize_pem())?;
    // The server refuses a key others can read.
    run(Command::new("chmod").arg("600").arg(key))?;
    let ca_file = match certificate {
        Certificate::SelfSigned => server_crt,
        Certificate::None | Certificate::Issued => write("ca.pem", &ca_pem)?,
    };
    Ok((ca_file, write("other-ca.pem", &other_ca_pem)?))
}

/// A port nothing listens on now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}

/// Polls `pg_isready` until the server accepts connections.
fn wait_until_ready(port: u16, dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let pg_isready = binary("pg_isready")?;
    loop {
        let ready = Command::new(&pg_isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("the server did not start within 30 s; its log:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A command running PostgreSQL's `name` as the `postgres` user when root.
fn server_command(as_root: bool, name: &str) -> Result<Command, String> {
    let binary = binary(name)?;
    Ok(if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(binary);
        command
    } else {
        Command::new(binary)
    })
}

/// `sh -c`, as the `postgres` user when root.
fn shell(as_root: bool) -> Command {
    let mut command = if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", "sh"]);
        command
    } else {
        Command::new("sh")
    };
    command.arg("-c");
    command
}

/// PostgreSQL's program `name`: on the `PATH`, or in the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn binary(name: &str) -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
        .unwrap_or_default();
    let debian = || {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin").join(name)))
            })
            .filter(|(_, path)| path.is_file())
            .collect();
        versions.sort();
        versions.pop().map(|(_, path)| path)
    };
    on_path.or_else(debian).ok_or_else(|| {
        format!("`{name}` is neither on the PATH nor in /usr/lib/postgresql/*/bin; install PostgreSQL's server package")
    })
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("running {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
