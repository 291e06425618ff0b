//! The application: build it (config -> pool -> schema -> router -> bound
//! listener), then run it until a shutdown signal, draining in-flight
//! requests for at most the configured time.

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use migration::History;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    admin::Dashboard,
    auth::{Auth, rate_limit},
    config::Config,
    db,
    events::{self, EventLog},
    files::Files,
    hooks::{Hooks, after},
    http::{AppState, router},
    metrics,
    realtime::Broker,
    schema::{Roots, Services},
    webhooks::Webhooks,
};

/// What an application adds to Hearth (through `extend::Hearth`); empty
/// for the `api` binary.
pub(crate) struct Extensions {
    pub(crate) routes: Option<Router>,
    /// A route that could not be added, reported at start-up.
    pub(crate) route_error: Option<String>,
    pub(crate) roots: Roots,
    pub(crate) history: History,
    pub(crate) hooks: Hooks,
}

impl Extensions {
    pub(crate) fn hearth() -> Self {
        Self {
            routes: None,
            route_error: None,
            roots: Roots::hearth(),
            history: History::hearth(),
            hooks: Hooks::default(),
        }
    }

    /// Checks what was added, before anything starts.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(err) = &self.route_error {
            anyhow::bail!("{err}");
        }
        self.history.check().map_err(|e| anyhow::anyhow!(e))?;
        let mut names = std::collections::BTreeSet::new();
        for (name, _) in &self.hooks.after {
            let shaped = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !shaped {
                anyhow::bail!(
                    "after-commit hook name {name:?}: use 1 to 64 letters, digits, '_', '-' or '.'"
                );
            }
            if !names.insert(name) {
                anyhow::bail!("two after-commit hooks are named {name:?}");
            }
        }
        Ok(())
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    db: db::Db,
    shutdown_timeout: Duration,
    /// Cancelled when shutdown starts; handlers see it in `AppState`.
    shutdown: CancellationToken,
    statements: db::StatementCounter,
    /// Open WebSockets' tasks, waited for at shutdown.
    sockets: TaskTracker,
    /// After-commit hooks, which hand their place over at shutdown.
    background: TaskTracker,
    /// The first admin's setup link, when there is no admin yet.
    admin_setup: Option<String>,
}

impl Application {
    /// Connects to the database (migrating it if configured) and binds the
    /// listener. Port 0 picks a free port, as tests do.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::assemble(config, Extensions::hearth()).await
    }

    /// [`Application::build`] with what an application added.
    pub(crate) async fn assemble(config: Config, extensions: Extensions) -> anyhow::Result<Self> {
        extensions.check()?;
        let Extensions {
            routes,
            roots,
            history,
            hooks,
            ..
        } = extensions;
        let (db, statements) = db::connect(&config, &history).await?;
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let hooks = Arc::new(hooks);
        let auth = Arc::new(Auth::new(db.clone(), &config)?.with_hooks(hooks.clone()));
        spawn_auth_sweeper(auth.clone());
        let storage = crate::files::storage::from_config(&config.files, &config.data_dir)
            .map_err(|e| anyhow::anyhow!("file storage: {e}"))?;
        tracing::info!(storage = %crate::files::storage::Storage::describe(&storage), "file storage");
        let files = Arc::new(Files::new(db.clone(), Arc::new(storage), &config)?);
        spawn_files_sweeper(files.clone());
        // Snapshots (`VACUUM INTO`) need a connection that is not read-only;
        // they only read the database, so they never wait on the writer.
        let snapshots = migration::database::connect_with(
            &config.database.url,
            &migration::database::PoolSettings {
                max_connections: 1,
                ..config.database.pool.clone()
            },
        )
        .await?;
        let backups =
            crate::backup::Backups::new(snapshots, config.backup.clone(), files.storage().clone());
        let shutdown_timeout = config.shutdown_timeout;
        let shutdown = CancellationToken::new();
        rate_limit::spawn_sweeper(auth.limits.clone(), shutdown.clone());
        let broker = Broker::start(config.realtime.event_buffer, db.reads().clone());
        // The log is read from its end as it is now; revocations from the
        // log's recent past, so none is missed in between.
        let log_error = |e: crate::error::AppError| anyhow::anyhow!("reading the event log: {e:?}");
        events::adopt_restored(&db).await.map_err(log_error)?;
        let start = events::tail(&db).await.map_err(log_error)?;
        let revocations = auth.tokens.revocations().clone();
        revocations.load(&db).await.map_err(log_error)?;
        let webhooks = Webhooks::start(db.clone(), config.webhooks.clone(), &shutdown)?;
        let mut taps: Vec<Arc<dyn events::Tap>> = vec![
            Arc::new(broker.clone()),
            Arc::new(revocations),
            webhooks.clone(),
        ];
        let background = TaskTracker::new();
        {
            // Hearth's own notifications follow the log as an
            // application's hooks do.
            let push = crate::push::Push::start(db.clone(), config.push.clone(), &shutdown)?;
            let notifier: Arc<dyn crate::hooks::AfterHook> =
                Arc::new(crate::notifications::worker::Notifier { push });
            let own = (crate::notifications::worker::NAME.to_owned(), notifier);
            let wake = Arc::new(tokio::sync::Notify::new());
            for (name, hook) in std::iter::once(&own).chain(&hooks.after) {
                after::register(&db, name)
                    .await
                    .map_err(|e| anyhow::anyhow!("after-commit hook {name}: {e:?}"))?;
                after::spawn(
                    db.clone(),
                    name.clone(),
                    hook.clone(),
                    wake.clone(),
                    shutdown.clone(),
                    &background,
                );
            }
            taps.push(Arc::new(after::Wake(wake)));
        }
        EventLog::start(
            db.clone(),
            &config.database.url,
            start,
            taps,
            shutdown.clone(),
        );
        events::sweeper::spawn(db.clone(), config.events.clone(), shutdown.clone());
        crate::idempotency::spawn_sweeper(db.clone(), shutdown.clone());
        let (dashboard_backups, dashboard_webhooks) = (backups.clone(), webhooks.clone());
        let schema = roots.schema(
            &config.graphql,
            Services {
                db: db.clone(),
                auth: auth.clone(),
                broker: broker.clone(),
                files: files.clone(),
                backups,
                webhooks,
                hooks,
            },
        );
        let metrics_handle = if config.metrics.enabled {
            let handle = metrics::recorder()?;
            metrics::spawn_upkeep(handle.clone(), shutdown.clone());
            Some(handle)
        } else {
            None
        };
        let (admin, admin_setup) = if config.admin.enabled {
            let dashboard = Arc::new(Dashboard::new(
                db.clone(),
                auth.clone(),
                config.admin.clone(),
                dashboard_backups,
                dashboard_webhooks,
                metrics_handle,
            ));
            let token = dashboard
                .issue_setup_token()
                .await
                .map_err(|e| anyhow::anyhow!("admin dashboard: {e:?}"))?;
            let path = token.map(|token| format!("/admin/setup?token={token}"));
            if let Some(path) = &path {
                let addr = listener.local_addr()?;
                tracing::warn!(
                    "no account is an admin yet: open http://{addr}{path} (valid once, for {} minutes) to make the first one, or run `api admin create`",
                    config.admin.setup_ttl.as_secs() / 60
                );
            }
            (Some(dashboard), path)
        } else {
            (None, None)
        };
        let state = AppState::new(
            db.clone(),
            schema,
            auth,
            files,
            Arc::new(config),
            shutdown.clone(),
            history,
            admin,
        );
        let sockets = state.sockets();
        let router = router(state, routes).map_err(|e| anyhow::anyhow!(e))?;
        Ok(Self {
            listener,
            router,
            db,
            shutdown_timeout,
            shutdown,
            statements,
            sockets,
            background,
            admin_setup,
        })
    }

    /// The one-time link (path and query) that makes the first admin, when
    /// the server started with none.
    pub fn admin_setup_path(&self) -> Option<&str> {
        self.admin_setup.as_deref()
    }

    /// How many SQL statements this application's pool has run so far.
    pub fn statement_counter(&self) -> db::StatementCounter {
        self.statements.clone()
    }

    /// The application's database handle (reads, and writes through its
    /// writer), for tests and tools that work beside the server.
    pub fn database(&self) -> db::Db {
        self.db.clone()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Cancelled when shutdown starts (the same token as `AppState::shutdown`).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets
    /// in-flight requests finish for up to the shutdown timeout, and closes
    /// the pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let stopping = self.shutdown.clone();
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests");
            stopping.cancel();
        });
        let deadline = async {
            self.shutdown.cancelled().await;
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        // Upgraded sockets are not the server's to wait for: they close
        // themselves on `shutdown` (1001) and are waited for here.
        let sockets = self.sockets.clone();
        let served = async move {
            let result = server.into_future().await;
            sockets.close();
            sockets.wait().await;
            result
        };
        let result = tokio::select! {
            result = served => result,
            () = deadline => {
                tracing::warn!(timeout = ?self.shutdown_timeout, "requests still running at the shutdown deadline; exiting anyway");
                Ok(())
            }
        };
        self.background.close();
        if tokio::time::timeout(Duration::from_secs(2), self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("background work still running at shutdown");
        }
        self.db.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Removes dead sessions and tokens hourly, so the tables stay the size of
/// the live ones.
fn spawn_auth_sweeper(auth: Arc<Auth>) {
    tokio::spawn(db::in_background(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60 * 60));
        loop {
            tick.tick().await;
            match auth.sweep().await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "removed expired sessions and tokens"),
                Err(err) => tracing::warn!(error = ?err, "sweeping expired sessions failed"),
            }
        }
    }));
}

/// Deletes unattached uploads past the grace period, and stored objects no
/// row points to, hourly (the first run right after start).
fn spawn_files_sweeper(files: Arc<Files>) {
    tokio::spawn(db::in_background(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60 * 60));
        loop {
            tick.tick().await;
            let cutoff = chrono::Utc::now() - files.config().orphan_grace;
            match files.sweep(cutoff).await {
                Ok(report) if report.rows + report.objects == 0 => {}
                Ok(report) => tracing::info!(
                    rows = report.rows,
                    objects = report.objects,
                    "removed unused uploads"
                ),
                Err(err) => tracing::warn!(error = ?err, "sweeping unused uploads failed"),
            }
        }
    }));
}

/// Resolves on SIGINT (Ctrl+C) or SIGTERM (`docker stop`, Kubernetes). As
/// PID 1 in a container the process gets no default SIGTERM handling, so
/// this handler is what makes it stop at all.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl+C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
