//! The migration example, run whole in schemas of its own, and its verify
//! step catching planted mismatches.

use es_examples::migration::{self, Mismatch, Schemas, import, legacy_deposit, project, set_up, verify};

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn prefix(test: &str) -> String {
    format!("esmig_test_{test}_{:08x}", fastrand::u32(..))
}

async fn drop_schemas(schemas: &Schemas, store: &es_postgres::PgEventStore) {
    let Schemas { legacy, store: es, read } = schemas;
    let sql = format!("DROP SCHEMA {legacy} CASCADE; DROP SCHEMA {es} CASCADE; DROP SCHEMA {read} CASCADE;");
    store.connection().await.expect("a connection").batch_execute(&sql).await.expect("drop the schemas");
}

#[tokio::test]
async fn the_migration_runs_every_step() {
    let prefix = prefix("run");
    migration::run(&url(), &prefix).await.unwrap_or_else(|e| {
        panic!("the migration failed: {e}\nIt needs PostgreSQL at DATABASE_URL or 127.0.0.1:5432.")
    });
    let schemas = Schemas::with_prefix(&prefix);
    let store = es_postgres::PgEventStore::builder_from_url(&url()).expect("a URL").build().expect("a store");
    drop_schemas(&schemas, &store).await;
}

#[tokio::test]
async fn the_projection_has_the_legacy_columns_and_types() {
    let schemas = Schemas::with_prefix(&prefix("types"));
    let store = set_up(&url(), &schemas).await.expect("the legacy system");
    let sql = "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns
               WHERE table_schema = $1 AND table_name = 'accounts' ORDER BY ordinal_position";
    let client = store.connection().await.expect("a connection");
    let columns = |schema: String| {
        let client = &client;
        async move {
            let rows = client.query(sql, &[&schema]).await.expect("columns");
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2)))
                .collect::<Vec<_>>()
        }
    };
    let legacy = columns(schemas.legacy.clone()).await;
    assert_eq!(legacy.len(), 5);
    assert_eq!(legacy, columns(schemas.read.clone()).await);
    drop_schemas(&schemas, &store).await;
}

#[tokio::test]
async fn verify_reports_every_planted_mismatch() {
    let schemas = Schemas::with_prefix(&prefix("verify"));
    let store = set_up(&url(), &schemas).await.expect("the legacy system");
    assert_eq!(import(&store, &schemas).await.expect("import"), 4);
    assert_eq!(import(&store, &schemas).await.expect("import again"), 0, "a second import imports nothing");
    project(&store, &schemas).await.expect("project");
    assert_eq!(verify(&store, &schemas).await.expect("verify"), Vec::<Mismatch>::new());

    // The legacy write path goes on after the import: the projection misses it.
    legacy_deposit(&store, &schemas, "acc-1", 1).await.expect("a legacy write");
    let client = store.connection().await.expect("a connection");
    let plant = format!(
        "INSERT INTO {legacy}.accounts VALUES ('acc-9', 'New Customer', 10, false, '2024-02-29');
         UPDATE {read}.accounts SET closed = true WHERE id = 'acc-4';",
        legacy = schemas.legacy,
        read = schemas.read
    );
    client.batch_execute(&plant).await.expect("plant the mismatches");

    let mismatches = verify(&store, &schemas).await.expect("verify");
    let ids: Vec<&str> = mismatches.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["acc-1", "acc-4", "acc-9"]);
    assert_eq!(mismatches[0].legacy.as_deref(), Some("(acc-1,\"Ada Lovelace\",120001,f,2019-03-01)"));
    assert_eq!(mismatches[0].projected.as_deref(), Some("(acc-1,\"Ada Lovelace\",120000,f,2019-03-01)"));
    assert_eq!(mismatches[2].projected, None, "acc-9 is missing from the projection");
    assert!(mismatches[1].to_string().contains("acc-4"), "{}", mismatches[1]);

    // Importing again picks up the new row only.
    assert_eq!(import(&store, &schemas).await.expect("import"), 1);
    drop_schemas(&schemas, &store).await;
}
