//! Embedgate's local Power BI + Entra ID emulator. See README.md for the routes, fixture format and checks.

pub mod admin;
pub mod app;
pub mod crypto;
pub mod embed;
pub mod entra;
pub mod gentoken;
pub mod idp;
pub mod powerbi;
pub mod rls;
pub mod state;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::routing::{delete, get, post};
use axum::Router;

pub use app::App;
pub use state::Fixture;

/// The demo fixture shipped with the crate (`fixtures/demo.json`).
pub const DEMO_FIXTURE: &str = include_str!("../fixtures/demo.json");

pub struct Options {
    pub listen: SocketAddr,
    pub embed_listen: SocketAddr,
    pub embed_host: String,
    pub fixture: Fixture,
}

pub struct Running {
    pub api_addr: SocketAddr,
    pub embed_addr: SocketAddr,
    pub api_base: String,
    pub embed_base: String,
    pub app: Arc<App>,
}

fn api_router(app: Arc<App>) -> Router {
    use gentoken as g;
    use powerbi as p;
    let pbi = Router::new()
        .route("/GenerateToken", post(g::v2))
        .route("/profiles", get(p::get_profiles).post(p::create_profile))
        .route(
            "/profiles/{id}",
            get(p::get_profile)
                .put(p::update_profile)
                .delete(p::delete_profile),
        )
        .route("/groups", get(p::get_groups).post(p::create_group))
        .route("/groups/{g}", get(p::get_group).delete(p::delete_group))
        .route(
            "/groups/{g}/users",
            get(p::get_group_users).post(p::add_group_user),
        )
        .route("/groups/{g}/users/{user}", delete(p::delete_group_user))
        .route("/groups/{g}/reports", get(p::get_reports))
        .route("/groups/{g}/reports/GenerateToken", post(g::create))
        .route("/groups/{g}/reports/{r}", get(p::get_report))
        .route("/groups/{g}/reports/{r}/GenerateToken", post(g::report))
        .route("/groups/{g}/datasets", get(p::get_datasets))
        .route("/groups/{g}/datasets/{d}", get(p::get_dataset))
        .route(
            "/groups/{g}/datasets/{d}/datasources",
            get(p::get_datasources),
        )
        .route("/groups/{g}/datasets/{d}/GenerateToken", post(g::dataset))
        .route("/groups/{g}/dashboards", get(p::get_dashboards))
        .route("/groups/{g}/dashboards/{d}/tiles", get(p::get_tiles))
        .route(
            "/groups/{g}/dashboards/{d}/GenerateToken",
            post(g::dashboard),
        )
        .route(
            "/groups/{g}/dashboards/{d}/tiles/{t}/GenerateToken",
            post(g::tile),
        )
        .route(
            "/groups/{g}/imports",
            get(p::get_imports).post(p::post_import),
        )
        .route("/groups/{g}/imports/{i}", get(p::get_import));
    let admin = Router::new()
        .route("/health", get(admin::health))
        .route("/state", get(admin::get_state).post(admin::put_state))
        .route(
            "/faults",
            get(admin::list_faults)
                .post(admin::add_faults)
                .delete(admin::clear_faults),
        )
        .route("/calls", get(admin::get_calls).delete(admin::clear_calls))
        .route("/calls/log", get(admin::get_call_log))
        .route("/entra/token", post(entra::admin_token))
        .route("/embed/inspect", post(admin::inspect_embed))
        .route("/embed/render", post(admin::embed_render))
        .route("/embed/query", post(admin::embed_query))
        .route("/embed/cert.pem", get(admin::embed_cert))
        .route("/idp/jwks.json", get(admin::jwks))
        .route(
            "/idp/.well-known/openid-configuration",
            get(admin::openid_configuration),
        )
        .route("/idp/token", post(admin::idp_token))
        .route("/idp/authorize", get(idp::authorize))
        .route("/idp/oauth2/token", post(idp::token))
        .route(
            "/settings",
            get(admin::get_settings).post(admin::post_settings),
        )
        .route("/idp/rotate", post(admin::idp_rotate))
        .route("/idp/keys/{kid}", delete(admin::idp_delete_key));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .nest("/v1.0/myorg", pbi)
        .nest("/__emulator", admin)
        .fallback(|| async { powerbi::unknown_route() })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            app::count_and_fault,
        ))
        .with_state(app)
}

fn embed_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/reportEmbed", get(embed::page))
        .route("/rdlEmbed", get(embed::page))
        .route("/__embed/load", post(embed::load))
        .route("/__emulator/health", get(admin::health))
        // Entra over TLS, for clients such as MSAL that only accept an https authority.
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(entra::openid_configuration),
        )
        .route("/common/discovery/instance", get(entra::instance_discovery))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            app::count_and_fault,
        ))
        .with_state(app)
}

/// Binds both listeners, builds the state and serves in background tasks.
pub async fn start(opts: Options) -> std::io::Result<Running> {
    let api_listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let embed_listener = tokio::net::TcpListener::bind(opts.embed_listen).await?;
    let api_addr = api_listener.local_addr()?;
    let embed_addr = embed_listener.local_addr()?;
    let api_base = format!("http://{api_addr}");
    let embed_base = format!("https://{}:{}", opts.embed_host, embed_addr.port());

    let certified = rcgen::generate_simple_self_signed(vec![
        opts.embed_host.clone(),
        "localhost".into(),
        "127.0.0.1".into(),
    ])
    .map_err(std::io::Error::other)?;
    let cert_pem = certified.cert.pem();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![certified.cert.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der())
                .into(),
        )
        .map_err(std::io::Error::other)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

    // IdP keys: ES256 now; the RS256 key is made on first use of the IdP (RSA key generation costs CPU time).
    let idp_keys = Arc::new(tokio::sync::RwLock::new(vec![crypto::IdpKey::generate(
        "ES256",
    )
    .expect("P-256 key")]));

    let app = Arc::new(App {
        state: Mutex::new(opts.fixture),
        entra_key: crypto::random_bytes::<32>(),
        embed_key: crypto::random_bytes::<32>(),
        api_base: api_base.clone(),
        embed_base: embed_base.clone(),
        cert_pem,
        faults: Mutex::new(Vec::new()),
        calls: Mutex::new(BTreeMap::new()),
        call_log: Mutex::new(VecDeque::new()),
        throttle: Mutex::new((0, 0)),
        idp_keys,
        idp_rsa_made: std::sync::atomic::AtomicBool::new(false),
        idp_codes: Default::default(),
    });

    let api = api_router(app.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(api_listener, api).await {
            eprintln!("pbi-emulator: api listener stopped: {e}");
        }
    });
    let embed = embed_router(app.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = embed_listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let svc = embed.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let io = hyper_util::rt::TokioIo::new(stream);
                let svc = hyper_util::service::TowerToHyperService::new(svc);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    Ok(Running {
        api_addr,
        embed_addr,
        api_base,
        embed_base,
        app,
    })
}
