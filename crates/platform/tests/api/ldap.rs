//! LDAP logins against Debian's `slapd`, started by the test on loopback (plain LDAP, StartTLS
//! and LDAPS, with a CA the test generates): login through `provider=`, a wrong password, an
//! empty one, a filter injection attempt, locking after repeated failures, a directory group
//! granting workspace access, a provider change applied without a restart, and a person
//! removed from the directory no longer able to log in.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BASE: &str = "dc=corp,dc=test";
const MANAGER: &str = "cn=admin,dc=corp,dc=test";
const MANAGER_PW: &str = "manager-secret";

/// A `slapd` of its own: config, database and certificates in a temporary directory, killed
/// on drop.
struct Slapd {
    child: Child,
    ldap: u16,
    ldaps: u16,
    ca_pem: String,
    _dir: tempfile::TempDir,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

impl Slapd {
    fn start() -> Slapd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).expect("db dir");
        let (ca, cert, key) = loopback_certificate();
        write(&d.join("ca.pem"), &ca.pem());
        write(&d.join("server.pem"), &cert.pem());
        write(&d.join("server.key"), &key.serialize_pem());
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             pidfile {d}/slapd.pid\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             TLSCACertificateFile {d}/ca.pem\n\
             TLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n\
             database mdb\n\
             maxsize 10485760\n\
             suffix \"{BASE}\"\n\
             rootdn \"{MANAGER}\"\n\
             rootpw {MANAGER_PW}\n\
             directory {d}/db\n",
            d = d.display()
        );
        write(&d.join("slapd.conf"), &conf);
        let (ldap, ldaps) = (free_port(), free_port());
        let child = Command::new(slapd_bin())
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{ldap}/ ldaps://127.0.0.1:{ldaps}/"
            ))
            .arg("-d")
            .arg("0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slapd (Debian's slapd package)");
        let s = Slapd {
            child,
            ldap,
            ldaps,
            ca_pem: ca.pem(),
            _dir: dir,
        };
        // Bounded wait until it answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", ldap)).is_err() {
            assert!(Instant::now() < deadline, "slapd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        s.modify("ldapadd", &format!(
            "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp\n\n\
             dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
             {}\n{}\n\
             dn: cn=devs,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: devs\nmember: uid=alice,ou=people,{BASE}\n\n",
            person("alice", "Alice Liddell", "alice-pw"),
            person("bob", "Bob Builder", "bob-pw"),
        ));
        s
    }

    /// Runs `ldapadd`/`ldapmodify`/`ldapdelete` as the manager with `input` on stdin.
    fn modify(&self, tool: &str, input: &str) {
        use std::io::Write;
        let mut child = Command::new(tool)
            .args(["-x", "-H", &format!("ldap://127.0.0.1:{}", self.ldap)])
            .args(["-D", MANAGER, "-w", MANAGER_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldap-utils");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn slapd_bin() -> PathBuf {
    ["/usr/sbin/slapd", "/usr/bin/slapd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("slapd"))
}

fn person(uid: &str, cn: &str, pw: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn}\nmail: {uid}@corp.test\nuserPassword: {pw}\n"
    )
}

async fn set_provider(env: &Env, name: &str, mapping: &str, provider: Value) {
    set_identity_provider(env, name, "LDAPIdentityProvider", mapping, provider).await;
}

fn settings(host: &str, extra: Value) -> Value {
    let mut v = json!({"host": host, "managerDN": MANAGER, "managerPassword": MANAGER_PW,
        "userSearchBase": format!("ou=people,{BASE}"), "userSearchFilter": "(objectClass=inetOrgPerson)",
        "loginAttribute": "uid", "mailAttribute": "mail", "displayNameAttribute": "cn",
        "groupSearchBase": format!("ou=groups,{BASE}"), "groupSearchFilter": "(objectClass=groupOfNames)",
        "groupMemberAttribute": "member", "groupNameAttribute": "cn"});
    json_patch::merge(&mut v, &extra);
    v
}

async fn ldap_token(c: &Client, user: &str, pw: &str) -> (StatusCode, Value) {
    let resp = c
        .inner
        .post(format!("{}/oauth/token", c.base))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
            ("provider", "corp"),
            ("client_id", "kubesphere"),
            ("client_secret", "kubesphere"),
        ])
        .send()
        .await
        .expect("token request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_logins_groups_locks_and_tls() {
    let slapd = tokio::task::spawn_blocking(Slapd::start)
        .await
        .expect("slapd");
    let env = Env::start_with(|c| c.lockout_threshold = 3).await;
    let c = &env.http;
    let admin = env.admin().await;
    set_provider(
        &env,
        "corp",
        "auto",
        settings(&format!("127.0.0.1:{}", slapd.ldap), json!({})),
    )
    .await;

    let (test, good) = listed_and_checked(c, &admin, &slapd).await;

    let token = alice_logs_in_and_bad_logins_are_refused(c, &admin).await;

    // Her directory group grants a workspace: a role bound to group corp:devs.
    create_workspace(c, &admin, "w", "admin").await;
    bind_group_in_workspace(c, &admin, "w", "corp:devs", "viewer").await;
    eventually(
        "alice's directory group grants her the workspace",
        || async {
            c.get("/kapis/tenant.kubesphere.io/v1beta1/workspaces/w", &token)
                .await
                .0
                == StatusCode::OK
        },
    )
    .await;
    let (s, v) = ldap_token(c, "bob", "bob-pw").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let bob = v["access_token"].as_str().expect("token").to_string();
    let (s, _) = c.post(test, &bob, good.clone()).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only administrators test providers"
    );
    let (s, _) = c
        .get("/kapis/tenant.kubesphere.io/v1beta1/workspaces/w", &bob)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "bob is not in devs");

    // Repeated failures lock bob for this address, even with his right password.
    for _ in 0..3 {
        let _ = ldap_token(c, "bob", "nope").await;
    }
    let (s, v) = ldap_token(c, "bob", "bob-pw").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    c.ok(
        Method::DELETE,
        &format!("{IAM}/users/bob/loginlocks"),
        &admin,
        None,
    )
    .await;
    let (s, v) = ldap_token(c, "bob", "bob-pw").await;
    assert_eq!(s, StatusCode::OK, "unlocked: {v}");

    ldaps_and_starttls(&env, &slapd).await;
    set_provider(
        &env,
        "corp",
        "lookup",
        settings(&format!("127.0.0.1:{}", slapd.ldap), json!({})),
    )
    .await;

    // lookup: a directory person not linked to a user is not admitted.
    slapd.modify("ldapadd", &person("carol", "Carol", "carol-pw"));
    let (s, v) = ldap_token(c, "carol", "carol-pw").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("linked"),
        "{v}"
    );
    let (s, _) = c.get(&format!("{IAM}/users/carol"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // …while alice, linked, still is.
    let (s, _) = ldap_token(c, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::OK);

    // Removed from the directory, alice can no longer log in (her earlier failures — the
    // wrong password, the local grant she has no password for — are cleared first, so the
    // answer is the directory's, not a lock).
    c.ok(
        Method::DELETE,
        &format!("{IAM}/users/alice/loginlocks"),
        &admin,
        None,
    )
    .await;
    slapd.modify("ldapdelete", &format!("uid=alice,ou=people,{BASE}\n"));
    let (s, v) = ldap_token(c, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

/// The login page lists the provider without its settings; the administrators' check of a
/// configuration, before or after saving it. The check's path and a good configuration.
async fn listed_and_checked(c: &Client, admin: &str, slapd: &Slapd) -> (&'static str, Value) {
    // The login page lists it, without its settings.
    let (_, cfg) = c
        .call(
            Method::GET,
            "/kapis/config.kubesphere.io/v1alpha2/configs/oauth",
            None,
            None,
        )
        .await;
    let idps = cfg["identityProviders"].as_array().expect("providers");
    assert_eq!(idps.len(), 1, "{cfg}");
    assert_eq!(idps[0]["name"], "corp");
    assert!(!cfg.to_string().contains(MANAGER_PW), "{cfg}");

    // The administrators' check of a configuration, before or after saving it.
    let test = "/kapis/iam.kubesphere.io/v1beta1/identityproviders/test";
    let good = json!({"name": "corp", "type": "LDAPIdentityProvider",
        "provider": settings(&format!("127.0.0.1:{}", slapd.ldap), json!({}))});
    let v = c.ok(Method::POST, test, admin, Some(good.clone())).await;
    assert_eq!(v["ok"], true, "{v}");
    let mut wrong = good.clone();
    wrong["provider"]["managerPassword"] = "nope".into();
    let v = c.ok(Method::POST, test, admin, Some(wrong)).await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("manager bind"),
        "{v}"
    );
    let (s, _) = c
        .post(test, admin, json!({"type": "LDAPIdentityProvider"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no name");
    (test, good)
}

/// First login creates alice, linked to her directory entry, with her mail and name; wrong,
/// empty and injected passwords and names are refused and recorded. Her token.
async fn alice_logs_in_and_bad_logins_are_refused(c: &Client, admin: &str) -> String {
    // First login creates alice, linked to her directory entry, with her mail and name.
    let (s, v) = ldap_token(c, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["access_token"].as_str().expect("token").to_string();
    let me = c
        .ok(Method::GET, &format!("{IAM}/users/alice"), admin, None)
        .await;
    assert_eq!(
        me["metadata"]["annotations"]["iam.kubesphere.io/identity-provider.corp"],
        "alice"
    );
    assert_eq!(me["spec"]["email"], "alice@corp.test");
    assert_eq!(me["spec"]["displayName"], "Alice Liddell");
    let (s, _) = c.get(&format!("{IAM}/users/alice"), &token).await;
    assert_eq!(s, StatusCode::OK, "her token works");
    // She has no local password: the password grant without the provider refuses her.
    let (s, _) = c.token("alice", "alice-pw").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Wrong, empty and injected passwords and names.
    let (s, v) = ldap_token(c, "alice", "wrong").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{v}"
    );
    let (s, v) = ldap_token(c, "alice", "").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{v}"
    );
    for name in ["*", "alice)(uid=*", "*)(|(uid=*"] {
        let (s, v) = ldap_token(c, name, "alice-pw").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}: {v}");
    }
    let records = c
        .ok(
            Method::GET,
            &format!("{IAM}/users/alice/loginrecords"),
            admin,
            None,
        )
        .await;
    let items = records["items"].as_array().expect("records");
    assert!(
        items
            .iter()
            .any(|r| r["spec"]["provider"] == "corp" && r["spec"]["success"] == true),
        "{records}"
    );
    assert!(
        items
            .iter()
            .any(|r| r["spec"]["provider"] == "corp" && r["spec"]["success"] == false),
        "{records}"
    );
    token
}

/// LDAPS and StartTLS with the test's CA; the change applies without a restart. Without the CA
/// the directory is unavailable, which is not a failed login.
async fn ldaps_and_starttls(env: &Env, slapd: &Slapd) {
    let c = &env.http;
    // LDAPS and StartTLS with the test's CA; the change applies without a restart.
    let ca = B64.encode(&slapd.ca_pem);
    set_provider(
        env,
        "corp",
        "auto",
        settings(
            &format!("ldaps://127.0.0.1:{}", slapd.ldaps),
            json!({"rootCAData": ca}),
        ),
    )
    .await;
    let (s, v) = ldap_token(c, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::OK, "LDAPS: {v}");
    set_provider(
        env,
        "corp",
        "auto",
        settings(
            &format!("127.0.0.1:{}", slapd.ldap),
            json!({"startTLS": true, "rootCAData": ca}),
        ),
    )
    .await;
    let (s, v) = ldap_token(c, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::OK, "StartTLS: {v}");
    // Without the CA the server's certificate is not trusted: the directory is unavailable,
    // which is not a failed login.
    set_provider(
        env,
        "corp",
        "auto",
        settings(&format!("ldaps://127.0.0.1:{}", slapd.ldaps), json!({})),
    )
    .await;
    let (s, v) = ldap_token(c, "alice", "alice-pw").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
}
