//! Signing in and out of the dashboard, and the first admin's setup link.

use super::*;

/// The form cookie's token (a new one when the browser has none) and the
/// response headers that keep it.
fn form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<Response>) {
    match cookie(headers, FORM_COOKIE) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = random_token();
            let mut carrier = ().into_response();
            set_cookie(&mut carrier, state, FORM_COOKIE, &token, None);
            (token, Some(carrier))
        }
    }
}

fn with_cookies_of(mut response: Response, carrier: Option<Response>) -> Response {
    if let Some(carrier) = carrier {
        for value in carrier.headers().get_all(header::SET_COOKIE) {
            response
                .headers_mut()
                .append(header::SET_COOKIE, value.clone());
        }
    }
    response
}

/// Sign-in and setup posts: same-site, with the form cookie's token.
fn check_form(headers: &HeaderMap, sent: &str) -> bool {
    !cross_site(headers)
        && cookie(headers, FORM_COOKIE).is_some_and(|kept| crate::admin::service::same(kept, sent))
}

/// Where to go after signing in: a dashboard path, never another site.
fn local_next(next: &str) -> &str {
    let local = next.starts_with("/admin") && !next.contains("//") && !next.contains('\\');
    if local { next } else { "/admin" }
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    #[serde(default)]
    next: String,
}

pub(super) async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let (token, carrier) = form_token(&state, &headers);
    let providers = dashboard(&state).providers();
    let page = views::sign_in(&token, local_next(&q.next), "", &providers, None);
    with_cookies_of(html(StatusCode::OK, page), carrier)
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    login: String,
    password: String,
    form_token: String,
    #[serde(default)]
    next: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = local_next(&form.next);
    let (token, carrier) = form_token(&state, &headers);
    let providers = dashboard(&state).providers();
    let again = |status: StatusCode, error: &str| {
        with_cookies_of(
            html(
                status,
                views::sign_in(&token, next, &form.login, &providers, Some(error)),
            ),
            None,
        )
    };
    if !check_form(&headers, &form.form_token) {
        let page = again(StatusCode::FORBIDDEN, "the form expired; try again");
        return with_cookies_of(page, carrier);
    }
    let ip = state.client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    match dashboard(&state)
        .sign_in(&form.login, &form.password, ip)
        .await
    {
        Ok(value) => {
            let mut response = Redirect::to(next).into_response();
            set_cookie(&mut response, &state, SESSION_COOKIE, &value, None);
            response
        }
        Err(err) => {
            let (status, message) = sign_in_refusal(err);
            again(status, &message)
        }
    }
}

/// Ties a provider sign-in to the browser that started it, until the
/// provider sends it back. SameSite=Lax, unlike the others: the way back is
/// a navigation from the provider's site, which Strict cookies miss.
const OAUTH_COOKIE: &str = "hearth_admin_oauth";

#[derive(Deserialize)]
pub(super) struct ProviderForm {
    provider: String,
    form_token: String,
}

/// Starts a sign-in at a provider and sends the browser there.
pub(super) async fn provider_sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<ProviderForm>,
) -> Response {
    let providers = dashboard(&state).providers();
    let (token, carrier) = form_token(&state, &headers);
    let again = |status: StatusCode, error: &str| {
        let page = views::sign_in(&token, "/admin", "", &providers, Some(error));
        with_cookies_of(html(status, page), None)
    };
    if !check_form(&headers, &form.form_token) {
        let page = again(StatusCode::FORBIDDEN, "the form expired; try again");
        return with_cookies_of(page, carrier);
    }
    let ip = state.client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    match dashboard(&state)
        .start_provider_sign_in(&form.provider, ip)
        .await
    {
        Ok((url, binding)) => {
            // A page that moves on by itself, not a redirect: the CSP's
            // `form-action 'self'` also covers where a form's answer
            // redirects, and the provider is another origin.
            let mut response = html(StatusCode::OK, views::moving_on(&url, "the provider"));
            let cookie =
                format!("{OAUTH_COOKIE}={binding}; Path=/admin/oauth; HttpOnly; SameSite=Lax");
            let ttl = state.auth.config.social.flow_ttl.as_secs();
            add_cookie(&mut response, &state, cookie, Some(ttl));
            response
        }
        Err(err) => {
            let (status, message) = sign_in_refusal(err);
            again(status, &message)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ProviderAnswer {
    code: Option<String>,
    #[serde(default)]
    state: String,
    error: Option<String>,
}

/// Where the provider sends the browser back: signs the admin in if this
/// browser started the flow and the account is an admin. It answers with a
/// page that moves on to the overview itself, because the session cookie
/// (SameSite=Strict) is not sent on a redirect that continues the
/// provider's cross-site navigation.
pub(super) async fn provider_callback(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(answer): Query<ProviderAnswer>,
) -> Response {
    let providers = dashboard(&state).providers();
    let (token, carrier) = form_token(&state, &headers);
    let again = |status: StatusCode, error: &str| {
        let page = views::sign_in(&token, "/admin", "", &providers, Some(error));
        let mut response = with_cookies_of(html(status, page), carrier);
        forget_flow(&mut response, &state);
        response
    };
    let Some(code) = answer.code.filter(|_| answer.error.is_none()) else {
        return again(
            StatusCode::UNAUTHORIZED,
            "the provider did not sign you in; try again",
        );
    };
    let binding = cookie(&headers, OAUTH_COOKIE).unwrap_or_default();
    let ip = state.client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    match dashboard(&state)
        .finish_provider_sign_in(binding, &answer.state, &code, ip)
        .await
    {
        Ok(value) => {
            let mut response = html(StatusCode::OK, views::moving_on("/admin", "the dashboard"));
            set_cookie(&mut response, &state, SESSION_COOKIE, &value, None);
            forget_flow(&mut response, &state);
            response
        }
        Err(err) => {
            let (status, message) = sign_in_refusal(err);
            again(status, &message)
        }
    }
}

/// What the sign-in page says when a sign-in fails: the API's answer, or
/// that the account is not an admin.
fn sign_in_refusal(err: AppError) -> (StatusCode, String) {
    match err {
        AppError::Forbidden => (
            StatusCode::FORBIDDEN,
            "this account is not an admin".to_owned(),
        ),
        err => (status_of(&err), async_graphql::Error::from(err).message),
    }
}

fn forget_flow(response: &mut Response, state: &AppState) {
    let cookie = format!("{OAUTH_COOKIE}=; Path=/admin/oauth; HttpOnly; SameSite=Lax");
    add_cookie(response, state, cookie, Some(0));
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    state
        .auth
        .sign_out(&admin.session)
        .await
        .map_err(failed(&admin))?;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    set_cookie(&mut response, &state, SESSION_COOKIE, "", Some(0));
    Ok(response)
}

#[derive(Deserialize)]
pub(super) struct SetupQuery {
    #[serde(default)]
    token: String,
}

pub(super) async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Response {
    if !dashboard(&state).setup_token_valid(&q.token) {
        return refused(
            None,
            StatusCode::NOT_FOUND,
            "this setup link is used or expired; restart the server for a new one, or run `api admin create`",
        );
    }
    let (token, carrier) = form_token(&state, &headers);
    with_cookies_of(
        html(StatusCode::OK, views::setup(&q.token, &token, None)),
        carrier,
    )
}

#[derive(Deserialize)]
pub(super) struct SetupForm {
    token: String,
    form_token: String,
    email: String,
    username: String,
    password: String,
}

pub(super) async fn setup(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    if !check_form(&headers, &form.form_token) {
        return refused(
            None,
            StatusCode::FORBIDDEN,
            "the form expired; open the setup link again",
        );
    }
    let ip = state.client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    match dashboard(&state)
        .complete_setup(&form.token, &form.email, &form.username, &form.password, ip)
        .await
    {
        Ok(value) => {
            let mut response = Redirect::to("/admin").into_response();
            set_cookie(&mut response, &state, SESSION_COOKIE, &value, None);
            response
        }
        Err(err) => error_page(None, err),
    }
}
