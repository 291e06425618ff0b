//! The panes that only read: the overview, the data browser, the audit
//! log and the settings.

use super::*;

pub(super) async fn overview(State(state): State<AppState>, Signed(admin): Signed) -> Answer {
    let dashboard = dashboard(&state);
    let o = figures::overview(&state.db).await.map_err(failed(&admin))?;
    Ok({
        let running = Running {
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: dashboard.started.elapsed().as_secs(),
            rates: dashboard.traffic.rates(),
        };
        html(StatusCode::OK, views::overview(&admin, &o, &running))
    })
}

pub(super) async fn settings(Signed(admin): Signed) -> Response {
    let rows = figures::settings(migration::settings::process_env);
    html(StatusCode::OK, views::settings(&admin, &rows))
}

pub(super) async fn data_tables(State(state): State<AppState>, Signed(admin): Signed) -> Answer {
    let names = crate::admin::data::tables(&state.db)
        .await
        .map_err(failed(&admin))?;
    Ok(html(StatusCode::OK, views::tables(&admin, &names)))
}

pub(super) async fn data_table(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(name): Path<String>,
    Query(query): Query<crate::admin::data::Query>,
) -> Answer {
    let table = crate::admin::data::table(&state.db, &name)
        .await
        .map_err(failed(&admin))?;
    let (rows, next) = crate::admin::data::rows(&state.db, &table, &query, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    Ok({
        let view = views::TablePage {
            table: &table,
            query: &query,
            rows: &rows,
            next,
        };
        html(StatusCode::OK, views::table(&admin, &view))
    })
}

pub(super) async fn audit_log(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(filter): Query<audit::Filter>,
) -> Answer {
    let (rows, next) = audit::list(&state.db, &filter, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    Ok(html(
        StatusCode::OK,
        views::audit(&admin, &filter, &rows, next),
    ))
}
