//! The SQLite and PostgreSQL migrations produce the same tables, columns and indexes.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::helpers::*;

#[derive(Debug, PartialEq, Eq, Default)]
struct Shape {
    columns: BTreeMap<String, BTreeMap<String, (String, bool)>>,
    indexes: BTreeMap<String, (String, bool, Vec<String>)>,
}

fn canonical(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "text" => "text",
        "integer" | "int4" => "integer",
        "bigint" | "int8" => "bigint",
        "boolean" | "bool" => "boolean",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "date" => "date",
        "double" | "double precision" | "float8" => "double",
        other => return format!("?{other}"),
    }
    .to_string()
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    #[diesel(column_name = type_)]
    type_: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    #[diesel(column_name = unique_)]
    unique_: bool,
    #[diesel(sql_type = Text)]
    origin: String,
}

#[derive(QueryableByName)]
struct SqliteIndexColumn {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

fn sqlite_shape(url: &str) -> Shape {
    let mut conn = SqliteConnection::establish(url.trim_start_matches("sqlite://")).unwrap();
    let mut shape = Shape::default();
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .unwrap();
    for t in tables {
        let cols: Vec<SqliteColumn> = diesel::sql_query(format!(
            "SELECT name, type AS type_, \"notnull\" FROM pragma_table_info('{}')",
            t.name
        ))
        .load(&mut conn)
        .unwrap();
        shape.columns.insert(
            t.name.clone(),
            cols.into_iter()
                .map(|c| (c.name, (canonical(&c.type_), c.notnull == 0)))
                .collect(),
        );
        let idx: Vec<SqliteIndex> = diesel::sql_query(format!(
            "SELECT name, \"unique\" AS unique_, origin FROM pragma_index_list('{}')",
            t.name
        ))
        .load(&mut conn)
        .unwrap();
        for i in idx.into_iter().filter(|i| i.origin == "c") {
            let cols: Vec<SqliteIndexColumn> = diesel::sql_query(format!(
                "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                i.name
            ))
            .load(&mut conn)
            .unwrap();
            shape.indexes.insert(
                i.name,
                (
                    t.name.clone(),
                    i.unique_,
                    cols.into_iter().filter_map(|c| c.name).collect(),
                ),
            );
        }
    }
    shape
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct PgIndex {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    columns: String,
}

fn pg_shape(url: &str) -> Shape {
    let mut conn = PgConnection::establish(url).unwrap();
    let mut shape = Shape::default();
    let cols: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .unwrap();
    for c in cols {
        shape.columns.entry(c.table_name).or_default().insert(
            c.column_name,
            (canonical(&c.data_type), c.is_nullable == "YES"),
        );
    }
    let idx: Vec<PgIndex> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, ix.indisunique AS is_unique, \
                string_agg(a.attname::text, ',' ORDER BY k.ord) AS columns \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE n.nspname = 'public' AND NOT ix.indisprimary AND t.relname <> '__diesel_schema_migrations' \
         GROUP BY t.relname, i.relname, ix.indisunique",
    )
    .load(&mut conn)
    .unwrap();
    for i in idx {
        shape.indexes.insert(
            i.index_name,
            (
                i.table_name,
                i.is_unique,
                i.columns.split(',').map(str::to_string).collect(),
            ),
        );
    }
    shape
}

#[actix_web::test]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    let lite = spawn_app(Backend::Sqlite).await.unwrap();
    let Some(pg) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let a = sqlite_shape(&lite.database_url);
    let b = pg_shape(&pg.database_url);
    assert!(a.columns.len() >= 15, "{:?}", a.columns.keys());
    for (table, cols) in &a.columns {
        assert_eq!(Some(cols), b.columns.get(table), "table {table}");
    }
    assert_eq!(
        a.columns.keys().collect::<Vec<_>>(),
        b.columns.keys().collect::<Vec<_>>()
    );
    assert_eq!(a.indexes, b.indexes);
    assert!(a
        .columns
        .values()
        .flat_map(|c| c.values())
        .all(|(t, _)| !t.starts_with('?')));
    lite.stop_handle().stop(false).await;
    pg.stop_handle().stop(false).await;
}
