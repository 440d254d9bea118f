//! What every data-plane pod runs with: the Kubernetes "restricted" Pod Security Standard
//! (non-root user, no privilege escalation, every capability dropped, the runtime's default
//! seccomp profile), a read-only root filesystem with an emptyDir for `/tmp`, and no
//! service-account token (the data plane never talks to the Kubernetes API). The checker
//! [`restricted_violations`] states the standard's rules, so that tests can hold every pod
//! the operator renders to it.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, PodSecurityContext, PodSpec, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};

/// The user and group the data plane runs as (the image's `USER 65532:65532`).
pub const RUN_AS: i64 = 65532;

pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        ..Default::default()
    }
}

/// The writable scratch space of a read-only root filesystem.
pub fn tmp_volume() -> (Volume, VolumeMount) {
    (
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..Default::default()
        },
    )
}

/// Volume types the restricted standard allows.
const ALLOWED_VOLUMES: &str =
    "configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret";

fn volume_allowed(v: &Volume) -> bool {
    v.config_map.is_some()
        || v.csi.is_some()
        || v.downward_api.is_some()
        || v.empty_dir.is_some()
        || v.ephemeral.is_some()
        || v.persistent_volume_claim.is_some()
        || v.projected.is_some()
        || v.secret.is_some()
}

fn container_violations(c: &Container, pod: &PodSecurityContext, out: &mut Vec<String>) {
    let sc = c.security_context.clone().unwrap_or_default();
    let name = &c.name;
    if sc.privileged == Some(true) {
        out.push(format!("{name}: privileged"));
    }
    if sc.allow_privilege_escalation != Some(false) {
        out.push(format!("{name}: allowPrivilegeEscalation must be false"));
    }
    let caps = sc.capabilities.unwrap_or_default();
    if !caps.drop.unwrap_or_default().iter().any(|d| d == "ALL") {
        out.push(format!("{name}: capabilities must drop ALL"));
    }
    if caps
        .add
        .unwrap_or_default()
        .iter()
        .any(|a| a != "NET_BIND_SERVICE")
    {
        out.push(format!("{name}: only NET_BIND_SERVICE may be added"));
    }
    let non_root = sc.run_as_non_root.or(pod.run_as_non_root);
    if non_root != Some(true) {
        out.push(format!("{name}: runAsNonRoot must be true"));
    }
    if sc.run_as_user.or(pod.run_as_user) == Some(0) {
        out.push(format!("{name}: runAsUser must not be 0"));
    }
    let seccomp = sc
        .seccomp_profile
        .or_else(|| pod.seccomp_profile.clone())
        .map(|s| s.type_);
    if !matches!(seccomp.as_deref(), Some("RuntimeDefault" | "Localhost")) {
        out.push(format!(
            "{name}: seccompProfile must be RuntimeDefault or Localhost"
        ));
    }
    if c.ports
        .iter()
        .flatten()
        .any(|p| p.host_port.is_some_and(|h| h != 0))
    {
        out.push(format!("{name}: hostPort"));
    }
}

/// The ways a pod breaks the "restricted" Pod Security Standard (empty: it passes).
pub fn restricted_violations(spec: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    let pod = spec.security_context.clone().unwrap_or_default();
    if spec.host_network == Some(true) || spec.host_pid == Some(true) || spec.host_ipc == Some(true)
    {
        out.push("host namespaces".into());
    }
    for v in spec.volumes.iter().flatten() {
        if !volume_allowed(v) {
            out.push(format!("volume {}: only {ALLOWED_VOLUMES}", v.name));
        }
    }
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        container_violations(c, &pod, &mut out);
    }
    out
}
