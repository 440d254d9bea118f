//! `quarry-fake-kube`: the controller tests' in-memory Kubernetes API server, over HTTP, so that
//! end-to-end tests can run a real `quarry-operator` process on a machine without Kubernetes
//! (e2e/test_operator.py). Not for production: no authentication, no persistence, no validation
//! of objects against their schemas.
//!
//! `quarry-fake-kube --port N --kubeconfig PATH` listens on 127.0.0.1:N and writes a kubeconfig
//! pointing at it.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut port = 0u16;
    let mut kubeconfig = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().context("--port N")?.parse()?,
            "--kubeconfig" => kubeconfig = Some(args.next().context("--kubeconfig PATH")?),
            other => anyhow::bail!(
                "unknown argument {other}; usage: quarry-fake-kube --port N --kubeconfig PATH"
            ),
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    if let Some(path) = kubeconfig {
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n"
        );
        std::fs::write(&path, config).with_context(|| format!("writing {path}"))?;
    }
    println!("quarry-fake-kube listening on http://{addr}");
    quarry_fake_kube::FakeApi::new()
        .serve_http(listener)
        .await?;
    Ok(())
}
