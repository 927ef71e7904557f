//! Sprig's crypto functions rendered through templates; generated certificates are parsed back
//! with `x509-parser` and their signatures checked with `ring`.

use std::sync::Arc;

use base64::Engine;
use gotmpl::{Limits, TemplateSet, Value, sprig};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

fn render(src: &str) -> Result<String, String> {
    let mut set = TemplateSet::new(Arc::new(sprig()));
    set.parse("t", src).map_err(|e| e.to_string())?;
    let mut out = String::new();
    set.execute("t", &Value::Nil, &mut out, &Limits::default())
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn ok(src: &str) -> String {
    render(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The DER of the first PEM block of `label` in `text`.
fn pem_der(text: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).map(|i| i + begin.len()).unwrap_or(0);
    let stop = text[start..].find(&end).map(|i| i + start).unwrap_or(start);
    let b64: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("{label}: {e}"))
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der)
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

fn cn(c: &X509Certificate<'_>) -> String {
    c.subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn sans(c: &X509Certificate<'_>) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(ip) => ips.push(ip.to_vec()),
                _ => {}
            }
        }
    }
    (dns, ips)
}

fn validity_days(c: &X509Certificate<'_>) -> i64 {
    let v = c.validity();
    (v.not_after.timestamp() - v.not_before.timestamp()) / 86400
}

fn ext_key_usage_is_server_and_client(c: &X509Certificate<'_>) -> bool {
    matches!(c.extended_key_usage(), Ok(Some(e)) if e.value.server_auth && e.value.client_auth)
}

#[test]
fn gen_ca_and_signed_cert_rsa() {
    let out = ok(concat!(
        r#"{{- $ca := genCA "foo-ca" 365 -}}"#,
        r#"{{- $c := genSignedCert "foo.com" (list "10.0.0.1" "::1") (list "bar.com" "bat.com") 30 $ca -}}"#,
        r#"{{ $ca.Cert }}{{ $ca.Key }}{{ $c.Cert }}{{ $c.Key }}{{ typeOf $ca }}"#
    ));
    assert!(out.ends_with("sprig.certificate"));
    let certs: Vec<&str> = out.split("-----BEGIN CERTIFICATE-----").skip(1).collect();
    assert_eq!(certs.len(), 2);
    let ca_der = pem_der(
        &format!("-----BEGIN CERTIFICATE-----{}", certs[0]),
        "CERTIFICATE",
    );
    let leaf_der = pem_der(
        &format!("-----BEGIN CERTIFICATE-----{}", certs[1]),
        "CERTIFICATE",
    );
    let ca = parse(&ca_der);
    let leaf = parse(&leaf_der);
    assert_eq!(out.matches("-----BEGIN RSA PRIVATE KEY-----").count(), 2);

    assert_eq!(cn(&ca), "foo-ca");
    assert!(ca.is_ca());
    assert_eq!(validity_days(&ca), 365);
    assert_eq!(ca.issuer().as_raw(), ca.subject().as_raw());
    assert!(ca.verify_signature(None).is_ok(), "self-signed CA");
    let ku = ca.key_usage().ok().flatten().map(|k| *k.value);
    assert!(ku.is_some_and(|k| k.key_cert_sign() && k.digital_signature() && k.key_encipherment()));
    assert!(ext_key_usage_is_server_and_client(&ca));
    assert_eq!(sans(&ca), (vec![], vec![]));
    assert_eq!(
        ca.public_key().parsed().map(|k| k.key_size()).unwrap_or(0),
        2048
    );

    assert_eq!(cn(&leaf), "foo.com");
    assert!(!leaf.is_ca());
    assert_eq!(validity_days(&leaf), 30);
    assert_eq!(leaf.issuer().as_raw(), ca.subject().as_raw());
    assert!(
        leaf.verify_signature(Some(ca.public_key())).is_ok(),
        "signed by the CA"
    );
    assert!(leaf.verify_signature(Some(leaf.public_key())).is_err());
    let (dns, ips) = sans(&leaf);
    assert_eq!(dns, ["bar.com", "bat.com"]);
    assert_eq!(
        ips,
        [
            vec![10, 0, 0, 1],
            std::net::Ipv6Addr::LOCALHOST.octets().to_vec()
        ]
    );
    let ku = leaf.key_usage().ok().flatten().map(|k| *k.value);
    assert!(ku.is_some_and(|k| !k.key_cert_sign() && k.digital_signature()));
    // The authority key identifier is the CA's subject key identifier.
    let ski = ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    let aki = leaf
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    assert!(ski.is_some());
    assert_eq!(ski, aki);
}

#[test]
fn self_signed_and_with_key_variants() {
    for kind in ["ecdsa", "ed25519"] {
        let src = format!(
            r#"{{{{- $k := genPrivateKey "{kind}" -}}}}{{{{- $c := genSelfSignedCertWithKey "x.test" (list "192.168.1.1") (list "x.test") 7 $k -}}}}{{{{ $c.Cert }}}}{{{{ eq $c.Key $k }}}}"#
        );
        let out = ok(&src);
        assert!(out.ends_with("true"), "{kind}: key returned unchanged");
        let der = pem_der(&out, "CERTIFICATE");
        let c = parse(&der);
        assert_eq!(cn(&c), "x.test");
        assert!(!c.is_ca());
        assert_eq!(validity_days(&c), 7);
        assert!(c.verify_signature(None).is_ok(), "{kind}");
        assert_eq!(
            sans(&c),
            (vec!["x.test".to_string()], vec![vec![192, 168, 1, 1]])
        );
    }
    // genCAWithKey with an ECDSA key, then a leaf with an Ed25519 key signed by it.
    let out = ok(concat!(
        r#"{{- $ca := genCAWithKey "ec-ca" 10 (genPrivateKey "ecdsa") -}}"#,
        r#"{{- $c := genSignedCertWithKey "leaf" nil nil 5 $ca (genPrivateKey "ed25519") -}}"#,
        r#"{{ $ca.Cert }}{{ $c.Cert }}{{ $c.Key }}"#
    ));
    let parts: Vec<&str> = out.split("-----BEGIN CERTIFICATE-----").skip(1).collect();
    let ca_der = pem_der(
        &format!("-----BEGIN CERTIFICATE-----{}", parts[0]),
        "CERTIFICATE",
    );
    let leaf_der = pem_der(
        &format!("-----BEGIN CERTIFICATE-----{}", parts[1]),
        "CERTIFICATE",
    );
    let (ca, leaf) = (parse(&ca_der), parse(&leaf_der));
    assert!(ca.is_ca());
    assert_eq!(cn(&leaf), "leaf");
    assert!(leaf.verify_signature(Some(ca.public_key())).is_ok());
    assert_eq!(sans(&leaf), (vec![], vec![]));
    assert!(out.contains("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn gen_self_signed_cert_rsa() {
    let out = ok(r#"{{ $c := genSelfSignedCert "self" nil (list "a.b") 1 }}{{ $c.Cert }}"#);
    let der = pem_der(&out, "CERTIFICATE");
    let c = parse(&der);
    assert_eq!(cn(&c), "self");
    assert_eq!(validity_days(&c), 1);
    assert!(c.verify_signature(None).is_ok());
    assert!(
        c.basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|b| !b.value.ca)
    );
}

#[test]
fn build_custom_cert_round_trips_and_signs() {
    let out = ok(concat!(
        r#"{{- $ca := genCAWithKey "custom" 3 (genPrivateKey "ecdsa") -}}"#,
        r#"{{- $b := buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc) -}}"#,
        r#"{{- $c := genSignedCertWithKey "l" nil nil 1 $b (genPrivateKey "ecdsa") -}}"#,
        r#"{{ eq $b.Cert $ca.Cert }} {{ eq $b.Key $ca.Key }}|{{ $c.Cert }}"#
    ));
    assert!(out.starts_with("true true|"));
    let leaf_der = pem_der(&out, "CERTIFICATE");
    assert_eq!(cn(&parse(&leaf_der)), "l");
    let bad = render(r#"{{ buildCustomCert ("fail" | b64enc) "" }}"#);
    assert!(
        matches!(&bad, Err(e) if e.ends_with("error calling buildCustomCert: unable to decode certificate")),
        "{bad:?}"
    );
    let bad = render(r#"{{ buildCustomCert "%%" "" }}"#);
    assert!(matches!(&bad, Err(e) if e.ends_with("unable to decode base64 certificate")));
}

#[test]
fn argument_and_input_errors_are_sprigs() {
    let cases = [
        (
            r#"{{ genCA "x" }}"#,
            "wrong number of args for genCA: want 2 got 1",
        ),
        (
            r#"{{ genCA "x" 1.5 }}"#,
            "wrong type for value; expected int; got float64",
        ),
        (
            r#"{{ genCA .missing 1 }}"#,
            "wrong type for value; expected string; got interface {}",
        ),
        (
            r#"{{ genCA 1 1 }}"#,
            "wrong type for value; expected string; got int",
        ),
        (
            r#"{{ genSignedCert "x" nil nil 1 (dict "Cert" "" "Key" "") }}"#,
            "wrong type for value; expected sprig.certificate; got map[string]interface {}",
        ),
        (
            r#"{{ genSelfSignedCertWithKey "x" (list "nope") nil 1 (genPrivateKey "ecdsa") }}"#,
            "error calling genSelfSignedCertWithKey: error parsing ip: nope",
        ),
        (
            r#"{{ genSelfSignedCertWithKey "x" (list 1) nil 1 (genPrivateKey "ecdsa") }}"#,
            "error calling genSelfSignedCertWithKey: error parsing ip: 1 is not a string",
        ),
        (
            r#"{{ genSelfSignedCertWithKey "x" nil (list "é.com") 1 (genPrivateKey "ecdsa") }}"#,
            "error calling genSelfSignedCertWithKey: error creating certificate: x509: \"é.com\" cannot be encoded as an IA5String",
        ),
        (
            r#"{{ genCAWithKey "x" 1 "junk" }}"#,
            "error calling genCAWithKey: parsing private key: no PEM data in input",
        ),
        (
            r#"{{ $a := genCAWithKey "a" 1 (genPrivateKey "ecdsa") }}{{ $b := genCAWithKey "b" 1 (genPrivateKey "ecdsa") }}{{ genSignedCertWithKey "x" nil nil 1 (buildCustomCert ($a.Cert | b64enc) ($b.Key | b64enc)) (genPrivateKey "ecdsa") }}"#,
            "error calling genSignedCertWithKey: error creating certificate: x509: provided PrivateKey doesn't match parent's PublicKey",
        ),
        (
            r#"{{ decryptAES "k" "YWJj" }}"#,
            "error calling decryptAES: runtime error: slice bounds out of range [:16] with capacity 3",
        ),
    ];
    for (src, want) in cases {
        let got = render(src);
        assert!(
            matches!(&got, Err(e) if e.ends_with(want)),
            "{src}\n got: {got:?}\nwant: ...{want}"
        );
    }
    assert_eq!(ok(r#"{{ genPrivateKey "bad" }}"#), "Unknown type bad");
}

#[test]
fn passwords_and_aes_through_templates() {
    assert_eq!(
        ok(r#"{{ "plaintext" | encryptAES "secretkey" | decryptAES "secretkey" }}"#),
        "plaintext"
    );
    assert_eq!(
        ok(r#"{{ "30tEfhuJSVRhpG97XCuWgz2okj7L8vQ1s6V9zVUPeDQ=" | decryptAES "secretkey" }}"#),
        "plaintext"
    );
    let line = ok(r#"{{ htpasswd "myUser" "myPassword" }}"#);
    let hash = line.strip_prefix("myUser:").unwrap_or_default();
    assert!(
        bcrypt::verify("myPassword", hash).unwrap_or(false),
        "{line}"
    );
    let h = ok(r#"{{ "abc" | bcrypt }}"#);
    assert!(h.starts_with("$2a$10$") && bcrypt::verify("abc", &h).unwrap_or(false));
    assert_eq!(
        ok(r#"{{ derivePassword 1 "pin" "password" "user" "example.com" }}"#),
        "6685"
    );
    let b = ok(r#"{{ randBytes 12 }}"#);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&b)
            .map(|v| v.len())
            .ok(),
        Some(12)
    );
}

#[test]
fn every_sprig_v3_function_helm_keeps_is_present() {
    // Sprig v3.3.0's GenericFuncMap (what Helm v3.17+/v4 use) minus env/expandenv, which Helm
    // removes.
    let sprig_v3 = "hello ago date date_in_zone date_modify dateInZone dateModify duration \
        durationRound htmlDate htmlDateInZone must_date_modify mustDateModify mustToDate now \
        toDate unixEpoch abbrev abbrevboth trunc trim upper lower title untitle substr repeat \
        trimall trimAll trimSuffix trimPrefix nospace initials randAlphaNum randAlpha randAscii \
        randNumeric swapcase shuffle snakecase camelcase kebabcase wrap wrapWith contains \
        hasPrefix hasSuffix quote squote cat indent nindent replace plural sha1sum sha256sum \
        sha512sum adler32sum toString atoi int64 int float64 seq toDecimal split splitList \
        splitn toStrings until untilStep add1 add sub div mod mul randInt add1f addf subf divf \
        mulf biggest max min maxf minf ceil floor round join sortAlpha default empty coalesce \
        all any compact mustCompact fromJson toJson toPrettyJson toRawJson mustFromJson \
        mustToJson mustToPrettyJson mustToRawJson ternary deepCopy mustDeepCopy typeOf typeIs \
        typeIsLike kindOf kindIs deepEqual getHostByName base dir clean ext isAbs osBase \
        osClean osDir osExt osIsAbs b64enc b64dec b32enc b32dec tuple list dict get set unset \
        hasKey pluck keys pick omit merge mergeOverwrite mustMerge mustMergeOverwrite values \
        append push mustAppend mustPush prepend mustPrepend first mustFirst rest mustRest last \
        mustLast initial mustInitial reverse mustReverse uniq mustUniq without mustWithout has \
        mustHas slice mustSlice concat dig chunk mustChunk bcrypt htpasswd genPrivateKey \
        derivePassword buildCustomCert genCA genCAWithKey genSelfSignedCert \
        genSelfSignedCertWithKey genSignedCert genSignedCertWithKey encryptAES decryptAES \
        randBytes uuidv4 semver semverCompare fail regexMatch mustRegexMatch regexFindAll \
        mustRegexFindAll regexFind mustRegexFind regexReplaceAll mustRegexReplaceAll \
        regexReplaceAllLiteral mustRegexReplaceAllLiteral regexSplit mustRegexSplit \
        regexQuoteMeta urlParse urlJoin";
    let have = gotmpl::sprig_function_names();
    let missing: Vec<&str> = sprig_v3
        .split_whitespace()
        .filter(|n| !have.iter().any(|h| h == n))
        .collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert_eq!(sprig_v3.split_whitespace().count(), 209);
}

#[test]
fn base64_decoding_matches_go() {
    // Outputs recorded from Helm v4.2 (Go's base64.StdEncoding skips \r and \n, accepts
    // non-zero trailing bits, and names the offending byte of the original input).
    assert_eq!(
        ok(concat!(
            r#"{{ "YQ==\n" | b64dec }}|{{ "YR==" | b64dec }}|{{ "YWJ" | b64dec }}|"#,
            r#"{{ "YW=J" | b64dec }}|{{ "Y\nW!J" | b64dec }}|{{ "YWJj\r\nZA==" | b64dec }}"#
        )),
        "a|a|illegal base64 data at input byte 0|illegal base64 data at input byte 2|\
         illegal base64 data at input byte 3|abcd"
    );
    let pw =
        ok(r#"{{ "30tEfhuJSVRhpG97\nXCuWgz2okj7L8vQ1s6V9zVUPeDQ=" | decryptAES "secretkey" }}"#);
    assert_eq!(pw, "plaintext");
}
