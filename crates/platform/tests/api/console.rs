//! The console's address space and its cookie sessions (HttpOnly token, double-submit CSRF).

use crate::common::*;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

/// The `name=value` part of the `Set-Cookie` for `name`, and the whole header.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or_default().to_string();
            let value = pair.split_once('=').map(|p| p.1).unwrap_or_default();
            (value.to_string(), v.to_string())
        })
}

struct Session {
    token: String,
    refresh: String,
    csrf: String,
}

impl Session {
    fn cookie(&self) -> String {
        format!(
            "orrery_token={}; orrery_csrf={}; orrery_refresh={}",
            self.token, self.csrf, self.refresh
        )
    }
}

async fn login(c: &Client, user: &str, pw: &str) -> (reqwest::Response, Option<Session>) {
    let r = c
        .inner
        .post(format!("{}/console/session", c.base))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .expect("send");
    let s = match (
        set_cookie(&r, "orrery_token"),
        set_cookie(&r, "orrery_refresh"),
        set_cookie(&r, "orrery_csrf"),
    ) {
        (Some(t), Some(f), Some(x)) => Some(Session {
            token: t.0,
            refresh: f.0,
            csrf: x.0,
        }),
        _ => None,
    };
    (r, s)
}

async fn send(
    c: &Client,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = c
        .inner
        .request(method, format!("{}{path}", c.base))
        .header(header::COOKIE, cookie);
    if let Some(x) = csrf {
        req = req.header("X-CSRF-Token", x);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_use_http_only_cookies_with_csrf() {
    let env = Env::start().await;
    let c = &env.http;
    let (r, s) = login(c, "admin", ADMIN_PW).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, token_header) = set_cookie(&r, "orrery_token").expect("token cookie");
    assert!(token_header.contains("HttpOnly") && token_header.contains("SameSite=Strict"));
    let (_, csrf_header) = set_cookie(&r, "orrery_csrf").expect("csrf cookie");
    assert!(!csrf_header.contains("HttpOnly"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["username"], "admin");
    assert!(
        body.get("access_token").is_none(),
        "the token stays in the cookie"
    );
    let s = s.expect("cookies");

    // Reads work with the cookie alone; the session says whose it is.
    let r = send(c, Method::GET, "/console/session", &s.cookie(), None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.expect("json")["username"], "admin");
    let r = send(
        c,
        Method::GET,
        &format!("{IAM}/users"),
        &s.cookie(),
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Writes need the CSRF header matching the cookie.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "csrf"}});
    let path = "/api/v1/namespaces/default/configmaps";
    for bad in [None, Some("not-the-token")] {
        let r = send(c, Method::POST, path, &s.cookie(), bad, Some(cm.clone())).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "csrf {bad:?}");
    }
    let r = send(c, Method::POST, path, &s.cookie(), Some(&s.csrf), Some(cm)).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Refresh rotates the cookies; the old refresh token is spent.
    let r = send(
        c,
        Method::POST,
        "/console/session/refresh",
        &s.cookie(),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let fresh = Session {
        token: set_cookie(&r, "orrery_token").expect("token").0,
        refresh: set_cookie(&r, "orrery_refresh").expect("refresh").0,
        csrf: set_cookie(&r, "orrery_csrf").expect("csrf").0,
    };
    let r = send(
        c,
        Method::POST,
        "/console/session/refresh",
        &s.cookie(),
        Some(&s.csrf),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Logout needs the CSRF header too, then the cookie no longer authenticates.
    let r = send(
        c,
        Method::DELETE,
        "/console/session",
        &fresh.cookie(),
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send(
        c,
        Method::DELETE,
        "/console/session",
        &fresh.cookie(),
        Some(&fresh.csrf),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookie(&r, "orrery_token")
            .is_some_and(|(v, h)| v.is_empty() && h.contains("Max-Age=0"))
    );
    let r = send(
        c,
        Method::GET,
        &format!("{IAM}/users"),
        &fresh.cookie(),
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_login_failures_and_address_space() {
    let env = Env::start_with(|c| c.lockout_threshold = 2).await;
    let c = &env.http;
    let (r, s) = login(c, "admin", "WrongPassw0rd").await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "invalid_grant, as /oauth/token"
    );
    assert!(s.is_none());
    let (r, _) = login(c, "admin", "WrongPassw0rd").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json::<Value>().await.expect("json")["locked"], true);
    // A form post (what another site could make a browser send) is refused.
    let r = c
        .inner
        .post(format!("{}/console/session", c.base))
        .form(&[("username", "admin"), ("password", ADMIN_PW)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // `/` leads to the console; its pages never shadow an API prefix.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = plain
        .get(format!("{}/", c.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()[header::LOCATION], "/console/");
    for page in ["/console/", "/console/clusters/host/overview"] {
        let r = plain
            .get(format!("{}{page}", c.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{page}");
        assert!(
            r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/html")
        );
    }
    let r = plain
        .get(format!("{}/console/assets/missing-0000.js", c.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = plain
        .get(format!("{}/api/v1/namespaces", c.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

mod mux {
    use super::*;
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn connect(base: &str, cookie: &str, origin: Option<&str>) -> Result<Socket, String> {
        let url = format!("{}/console/watch", base.replacen("http", "ws", 1));
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        req.headers_mut()
            .insert("Cookie", cookie.parse().map_err(|_| "cookie")?);
        if let Some(o) = origin {
            req.headers_mut()
                .insert("Origin", o.parse().map_err(|_| "origin")?);
        }
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(s, _)| s)
            .map_err(|e| e.to_string())
    }

    /// The next frame about watch `id` (bounded: the test's own timeout applies).
    async fn next_for(ws: &mut Socket, id: u64) -> Value {
        let wait = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m {
                    let v: Value = serde_json::from_str(&t).expect("json frame");
                    if v["id"] == id {
                        return v;
                    }
                }
            }
            Value::Null
        });
        wait.await.expect("a frame in time")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_watches_share_one_socket_with_the_callers_rights() {
        let env = Env::start().await;
        let c = &env.http;
        let admin = env.admin().await;
        create_user(c, &admin, "plain").await;
        let (_, s) = login(c, "admin", ADMIN_PW).await;
        let s = s.expect("cookies");
        let mut ws = connect(&c.base, &s.cookie(), Some(&c.base))
            .await
            .expect("connect");
        let sub = |id: u64, path: &str, query: &str| {
            Message::Text(
                json!({"id": id, "path": path, "query": query})
                    .to_string()
                    .into(),
            )
        };
        ws.send(sub(
            1,
            "/api/v1/namespaces/default/configmaps",
            "resourceVersion=0",
        ))
        .await
        .expect("send");
        ws.send(sub(
            2,
            "/api/v1/namespaces",
            "fieldSelector=metadata.name%3Ddefault",
        ))
        .await
        .expect("send");
        let ns = next_for(&mut ws, 2).await;
        assert_eq!(ns["event"]["type"], "ADDED");
        assert_eq!(ns["event"]["object"]["metadata"]["name"], "default");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "muxed"}});
        c.ok(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &admin,
            Some(cm),
        )
        .await;
        loop {
            let f = next_for(&mut ws, 1).await;
            if f["event"]["object"]["metadata"]["name"] == "muxed" {
                assert_eq!(f["event"]["type"], "ADDED");
                break;
            }
        }
        // Paths outside the resource APIs are refused.
        ws.send(sub(3, "/kapis/iam.kubesphere.io/v1beta1/users", ""))
            .await
            .expect("send");
        assert_eq!(next_for(&mut ws, 3).await["error"]["code"], 400);

        // Another user's socket gets that user's answers.
        let (_, p) = login(c, "plain", USER_PW).await;
        let p = p.expect("cookies");
        let mut pws = connect(&c.base, &p.cookie(), None).await.expect("connect");
        pws.send(sub(7, "/api/v1/namespaces/kube-system/secrets", ""))
            .await
            .expect("send");
        let denied = next_for(&mut pws, 7).await;
        assert_eq!(denied["error"]["code"], 403, "{denied}");
        assert_eq!(denied["error"]["status"]["reason"], "Forbidden");

        // A page of another site cannot open the socket with the user's cookies.
        let err = connect(&c.base, &s.cookie(), Some("https://evil.example"))
            .await
            .err()
            .unwrap_or_default();
        assert!(err.contains("403"), "{err}");
    }

    /// A metadata watch (`"metadata": true`) of Secrets tells of a change with the Secret's name
    /// and revision, never its values (not even in kubectl's last-applied annotation).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metadata_watches_carry_no_secret_values() {
        let env = Env::start().await;
        let c = &env.http;
        let admin = env.admin().await;
        let (_, s) = login(c, "admin", ADMIN_PW).await;
        let s = s.expect("cookies");
        let mut ws = connect(&c.base, &s.cookie(), Some(&c.base))
            .await
            .expect("connect");
        let cmd = json!({"id": 1, "path": "/api/v1/namespaces/default/secrets", "query": "", "metadata": true});
        ws.send(Message::Text(cmd.to_string().into()))
            .await
            .expect("send");
        let applied = r#"{"stringData":{"password":"applied-value"}}"#;
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "watched", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
            "stringData": {"password": "applied-value"}});
        c.ok(
            Method::POST,
            "/api/v1/namespaces/default/secrets",
            &admin,
            Some(secret),
        )
        .await;
        let seen = loop {
            let f = next_for(&mut ws, 1).await;
            assert!(f["error"].is_null(), "{f}");
            if f["event"]["object"]["metadata"]["name"] == "watched" {
                break f;
            }
        };
        let text = seen.to_string();
        assert!(
            !text.contains("applied-value") && !text.contains("YXBwbGllZC12YWx1ZQ"),
            "{text}"
        );
        assert!(seen["event"]["object"]["data"].is_null(), "{text}");
        assert!(
            seen["event"]["object"]["metadata"]["resourceVersion"].is_string(),
            "{text}"
        );
    }

    /// Reads frames until the server ends the socket (bounded); returns the frames seen.
    async fn until_closed(ws: &mut Socket) -> Vec<Value> {
        let mut frames = Vec::new();
        let wait = tokio::time::timeout(std::time::Duration::from_secs(15), async {
            while let Some(Ok(m)) = ws.next().await {
                match m {
                    Message::Text(t) => frames.push(serde_json::from_str(&t).unwrap_or_default()),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        });
        wait.await.expect("the socket was not closed in time");
        frames
    }

    /// Revoking the token a socket was opened with (logout, signing key rotation) ends the
    /// socket and its watches: nothing keeps streaming on a dead credential.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revoking_the_token_closes_the_watch_socket() {
        let env = Env::start().await;
        let c = &env.http;
        let admin = env.admin().await;
        let sub = Message::Text(
            json!({"id": 1, "path": "/api/v1/namespaces", "query": ""})
                .to_string()
                .into(),
        );
        // A bearer-token socket, then /oauth/logout of that token.
        let token = c.login("admin", ADMIN_PW).await;
        let url = format!("{}/console/watch", c.base.replacen("http", "ws", 1));
        let mut req = url.into_client_request().expect("request");
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("connect");
        ws.send(sub.clone()).await.expect("send");
        assert_eq!(next_for(&mut ws, 1).await["event"]["type"], "ADDED");
        let r = c
            .inner
            .post(format!("{}/oauth/logout", c.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), StatusCode::OK);
        let frames = until_closed(&mut ws).await;
        assert!(
            frames.iter().any(|f| f["error"]["code"] == 401),
            "{frames:?}"
        );

        // A console (cookie) socket, then a rotation of the signing key.
        let (_, s) = login(c, "admin", ADMIN_PW).await;
        let s = s.expect("cookies");
        let mut ws = connect(&c.base, &s.cookie(), None).await.expect("connect");
        ws.send(sub).await.expect("send");
        assert_eq!(next_for(&mut ws, 1).await["event"]["type"], "ADDED");
        c.ok(
            Method::POST,
            "/kapis/iam.kubesphere.io/v1beta1/signingkey/rotate",
            &admin,
            Some(json!({})),
        )
        .await;
        let frames = until_closed(&mut ws).await;
        assert!(
            frames.iter().any(|f| f["error"]["code"] == 401),
            "{frames:?}"
        );
    }

    /// The handshake's refusal: its status and body (None when the socket opened).
    async fn refused(url: &str, cookie: &str, origin: &str) -> Option<(u16, String)> {
        let mut req = url.into_client_request().expect("request");
        req.headers_mut()
            .insert("Cookie", cookie.parse().expect("cookie"));
        req.headers_mut()
            .insert("Origin", origin.parse().expect("origin"));
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "v5.channel.k8s.io, v4.channel.k8s.io"
                .parse()
                .expect("protocols"),
        );
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => None,
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Some((
                r.status().as_u16(),
                String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned(),
            )),
            Err(e) => panic!("handshake: {e}"),
        }
    }

    /// The console's terminal: an exec WebSocket authenticated by the session cookie is taken
    /// from the console's own origin only (another page cannot open a shell with the user's
    /// cookie), and reaches the cluster, which says why it runs no shell (the embedded cluster
    /// simulates its containers).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn console_exec_sockets_come_from_the_console_only() {
        let env = Env::start().await;
        let c = &env.http;
        let (_, s) = login(c, "admin", ADMIN_PW).await;
        let cookie = s.expect("cookies").cookie();
        let url = format!(
            "{}/api/v1/namespaces/default/pods/p/exec?container=c&command=sh&stdin=true&stdout=true&tty=true",
            c.base.replacen("http", "ws", 1)
        );
        let (status, body) = refused(&url, &cookie, "http://elsewhere.example")
            .await
            .expect("refused");
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("own origin"), "{body}");
        let (status, body) = refused(&url, &cookie, &c.base).await.expect("refused");
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("pods/exec is not available") && body.contains("runs no containers"),
            "{body}"
        );
    }
}
