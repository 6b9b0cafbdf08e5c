//! TLS material for a SASL_SSL listener: a throwaway CA and a broker
//! certificate signed by it, made with openssl.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The broker's TLS material: a PKCS12 keystore (key + certificate chain).
pub(super) struct Keystore {
    pub(super) path: PathBuf,
    pub(super) password: String,
}

/// A CA and a broker certificate for 127.0.0.1/localhost signed by it
/// (openssl); the CA's PEM is `dir/ca.pem`.
pub(super) fn make_tls(dir: &Path) -> Keystore {
    std::fs::create_dir_all(dir).unwrap();
    let password = format!("ks{}", fastrand::u64(..));
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    let steps: Vec<Vec<&str>> = vec![
        [
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &["-keyout", "broker.key", "-out", "broker.csr"],
        ]
        .concat(),
    ];
    for (i, args) in steps.iter().enumerate() {
        let subj = if i == 0 {
            "/CN=switchboard-test-ca"
        } else {
            "/CN=localhost"
        };
        openssl(
            dir,
            &[args.as_slice(), &["-days", "30", "-subj", subj]].concat(),
        );
    }
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "san.ext",
            "-out",
            "broker.pem",
        ],
    );
    let pass = format!("pass:{password}");
    openssl(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "broker.pem",
            "-inkey",
            "broker.key",
            "-certfile",
            "ca.pem",
            "-name",
            "broker",
            "-out",
            "broker.p12",
            "-passout",
            &pass,
        ],
    );
    Keystore {
        path: dir.join("broker.p12"),
        password,
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
