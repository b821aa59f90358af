//! `kube generate`: YAML for what runs here that passes Kubernetes' own
//! schemas strictly (PyPI kubernetes-validate, 1.30 and 1.37), with
//! secrets as references and never values.

mod common;

use std::path::Path;

use common::{api::clients_venv, http_get, registry::free_port, Env};
use serde_json::Value;

const SECRET: &str = "kube-secret-value-123";

/// The documents of a YAML stream.
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("---\n")
        .map(|d| serde_norway::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

/// kubernetes-validate --strict on `file`, for the oldest and newest
/// versions the issue names.
#[track_caller]
fn valid(file: &std::path::Path) {
    let tool = clients_venv().join("bin/kubernetes-validate");
    assert!(
        tool.exists(),
        "kubernetes-validate is missing from the venv: scripts/test installs it"
    );
    for version in ["1.30.0", "1.37.0"] {
        let out = std::process::Command::new(&tool)
            .args(["--strict", "-k", version])
            .arg(file)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !text.contains("ERROR"),
            "{version}: {text}"
        );
        assert!(text.contains("passed"), "{text}");
    }
}

fn generate(env: &Env, args: &[&str]) -> (Vec<Value>, std::path::PathBuf) {
    let file = env.path(&format!("gen-{}.yaml", args.join("-").replace('/', "_")));
    let mut all = vec!["kube", "generate", "-f", file.to_str().unwrap()];
    all.extend_from_slice(args);
    env.berth(&all).ok();
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(!yaml.contains(SECRET), "a secret's value in the YAML");
    (documents(&yaml), file)
}

#[test]
fn a_container_becomes_a_pod_a_deployment_or_a_job() {
    let env = Env::with_busybox();
    env.berth_stdin(&["secret", "create", "db_pass", "-"], SECRET.as_bytes())
        .ok();
    env.berth(&["volume", "create", "data"]).ok();
    let port = free_port();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--user",
        "1000:1000",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_BIND_SERVICE",
        "--read-only",
        "--security-opt",
        "no-new-privileges",
        "-v",
        "data:/data",
        "-v",
        "/etc/hostname:/etc/host-name:ro",
        "--tmpfs",
        "/tmp:size=1m",
        "--health-cmd",
        "test -d /data",
        "--health-interval",
        "5s",
        "--health-retries",
        "2",
        "--restart",
        "always",
        "--label",
        "tier=front",
        "--label",
        "note=has spaces",
        "--secret",
        "db_pass",
        "--secret",
        "source=db_pass,type=env,target=DB_PASSWORD",
        "-e",
        "MODE=prod",
        "-w",
        "/data",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
    ])
    .ok();

    let (docs, file) = generate(&env, &["web"]);
    valid(&file);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PersistentVolumeClaim", "Pod"]);
    assert_eq!(docs[0]["metadata"]["name"], "data");
    let pod = &docs[1];
    assert_eq!(pod["metadata"]["name"], "web-pod");
    assert_eq!(pod["metadata"]["labels"]["tier"], "front");
    assert_eq!(pod["metadata"]["annotations"]["note"], "has spaces");
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["image"], "docker.io/library/busybox:latest");
    assert_eq!(c["args"], serde_json::json!(["httpd", "-f", "-p", "80"]));
    assert!(c.get("command").is_none(), "the image's entrypoint is kept");
    assert_eq!(c["workingDir"], "/data");
    assert_eq!(
        c["env"][0],
        serde_json::json!({"name": "MODE", "value": "prod"})
    );
    assert_eq!(c["env"][1]["valueFrom"]["secretKeyRef"]["key"], "db_pass");
    assert_eq!(
        c["ports"][0],
        serde_json::json!({"containerPort": 80, "protocol": "TCP", "hostPort": port})
    );
    assert_eq!(
        c["resources"]["limits"],
        serde_json::json!({"memory": "64Mi", "cpu": "500m"})
    );
    let sc = &c["securityContext"];
    assert_eq!(
        (sc["runAsUser"].as_i64(), sc["runAsGroup"].as_i64()),
        (Some(1000), Some(1000))
    );
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["livenessProbe"]["exec"]["command"],
        serde_json::json!(["/bin/sh", "-c", "test -d /data"])
    );
    assert_eq!(c["livenessProbe"]["periodSeconds"], 5);
    assert_eq!(c["livenessProbe"]["failureThreshold"], 2);
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    let kinds: Vec<&str> = volumes
        .iter()
        .map(|v| {
            ["hostPath", "persistentVolumeClaim", "emptyDir", "secret"]
                .into_iter()
                .find(|k| v.get(*k).is_some())
                .unwrap()
        })
        .collect();
    assert_eq!(
        kinds,
        ["hostPath", "persistentVolumeClaim", "emptyDir", "secret"]
    );
    assert_eq!(volumes[0]["hostPath"]["type"], "File");
    assert_eq!(
        volumes[2]["emptyDir"],
        serde_json::json!({"medium": "Memory", "sizeLimit": "1Mi"})
    );

    let (docs, file) = generate(
        &env,
        &["--type", "deployment", "--replicas", "3", "-s", "web"],
    );
    valid(&file);
    assert_eq!(docs[1]["kind"], "Deployment");
    assert_eq!(docs[1]["spec"]["replicas"], 3);
    assert_eq!(docs[1]["spec"]["selector"]["matchLabels"]["app"], "web-pod");
    assert_eq!(docs[2]["kind"], "Service");
    assert_eq!(docs[2]["spec"]["ports"][0]["port"], port);
    assert_eq!(docs[2]["spec"]["ports"][0]["targetPort"], 80);

    let (docs, file) = generate(&env, &["--type", "job", "web"]);
    valid(&file);
    assert_eq!(docs[1]["kind"], "Job");
    assert_eq!(
        docs[1]["spec"]["template"]["spec"]["restartPolicy"],
        "Never"
    );

    // Bad input: one line, nothing written.
    let out = env.path("never.yaml");
    env.berth(&[
        "kube",
        "generate",
        "-f",
        out.to_str().unwrap(),
        "--type",
        "pod",
        "--replicas",
        "2",
        "web",
    ])
    .fails(1, "--replicas can only be set when --type is deployment");
    env.berth(&["kube", "generate", "--type", "cronjob", "web"])
        .fails(1, "invalid --type \"cronjob\": use pod, deployment or job");
    env.berth(&["kube", "generate", "nothing"])
        .fails(1, "nothing (neither a container nor a pod)");
    assert!(!out.exists());
    env.berth(&["rm", "-f", "web"]).ok();
}

#[test]
fn a_pod_becomes_one_pod_with_its_containers_and_ports() {
    let env = Env::with_busybox();
    let port = free_port();
    env.berth(&[
        "pod",
        "create",
        "--name",
        "shop",
        "-p",
        &format!("{port}:8080"),
        "--label",
        "app.kubernetes.io/name=shop",
    ])
    .ok();
    env.berth(&[
        "run", "-d", "--pod", "shop", "--name", "front", "busybox", "httpd", "-f", "-p", "8080",
    ])
    .ok();
    env.berth(&[
        "run",
        "-d",
        "--pod",
        "shop",
        "--name",
        "worker",
        "--entrypoint",
        "sleep",
        "busybox",
        "300",
    ])
    .ok();
    let (docs, file) = generate(&env, &["shop"]);
    valid(&file);
    assert_eq!(docs.len(), 1);
    let pod = &docs[0];
    assert_eq!(pod["metadata"]["name"], "shop");
    assert_eq!(pod["metadata"]["labels"]["app.kubernetes.io/name"], "shop");
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["front", "worker"]);
    assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], port);
    assert_eq!(
        pod["spec"]["containers"][1]["command"],
        serde_json::json!(["sleep"])
    );
    assert_eq!(
        pod["spec"]["containers"][1]["args"],
        serde_json::json!(["300"])
    );
    env.berth(&["kube", "generate", "front"])
        .fails(1, "front is in a pod: generate the pod instead");
    env.berth(&["pod", "rm", "-f", "shop"]).ok();
}

/// The fixture play file with a free host port.
fn play_file(env: &Env, port: u16) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kube-play.yaml"),
    )
    .unwrap()
    .replace("HOSTPORT", &port.to_string());
    let f = env.path("play.yaml");
    std::fs::write(&f, text).unwrap();
    f
}

#[test]
fn play_runs_a_file_and_down_takes_it_away() {
    let env = Env::with_busybox();
    let port = free_port();
    let file = play_file(&env, port);
    let r = env.berth(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Pods:\nshop\n"), "{}", r.stdout);
    // What berth does not play is said, not dropped.
    assert!(
        r.stderr
            .contains("WARNING: Ingress shop: berth does not play this kind (yet)"),
        "{}",
        r.stderr
    );
    // ConfigMap and fieldRef env, a ConfigMap and a Secret as files, an
    // init container run first, the port published on the pod.
    assert_eq!(
        http_get("127.0.0.1", port),
        "mode=prod pod=shop\nlisten 80\nhunter2"
    );
    let ps = env.berth(&["ps", "--format", "{{.Names}}"]).ok();
    let mut names: Vec<&str> = ps.lines().filter(|n| !n.ends_with("-infra")).collect();
    names.sort();
    assert_eq!(names, ["shop-side", "shop-web"]);
    assert_eq!(
        env.berth(&["exec", "shop-web", "sh", "-c", "echo $PASS"])
            .ok(),
        "hunter2\n"
    );
    // The emptyDir is the pod's: one container writes, the other reads.
    env.berth(&["exec", "shop-side", "sh", "-c", "echo shared > /scratch/x"])
        .ok();
    assert_eq!(
        env.berth(&["exec", "shop-web", "cat", "/scratch/x"]).ok(),
        "shared\n"
    );
    let status = env
        .berth(&["pod", "inspect", "--format", "{{.State}}", "shop"])
        .ok();
    assert_eq!(status, "Running\n");
    // From STDIN, created but not started with --start=false.
    let stopped = "kind: Pod\nmetadata: {name: idle}\nspec: {containers: [{name: c, image: busybox, args: [sleep, '30']}]}\n";
    let r = env.berth_stdin(&["kube", "play", "--start=false", "-"], stopped.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        env.berth(&["pod", "inspect", "--format", "{{.State}}", "idle"])
            .ok(),
        "Created\n"
    );
    let r = env.berth_stdin(&["kube", "down", "-"], stopped.as_bytes());
    assert!(r.stdout.contains("idle"), "{}", r.stdout);
    env.berth(&["pod", "inspect", "idle"])
        .fails(1, "no such pod: idle");
    // A second play of the same file is refused; --replace plays it again.
    env.berth(&["kube", "play", file.to_str().unwrap()]).fails(
        1,
        "pod shop already exists: use --replace, or berth kube down first",
    );
    env.berth(&["kube", "play", "--replace", file.to_str().unwrap()])
        .ok();
    assert_eq!(
        http_get("127.0.0.1", port),
        "mode=prod pod=shop\nlisten 80\nhunter2"
    );

    // Round trip: what generate says of the played pod plays back the same
    // (with the Secret, whose value generate never writes, beside it).
    let generated = env.berth(&["kube", "generate", "shop"]).ok();
    assert!(!generated.contains("hunter2"));
    env.berth(&["kube", "down", file.to_str().unwrap()]).ok();
    let again = env.path("again.yaml");
    std::fs::write(
        &again,
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: db-password}}\nstringData: {{db.password: hunter2}}\n---\n{generated}"),
    )
    .unwrap();
    // generate names the ConfigMap's files by their host path (they stay
    // where the first play put them until its down): play the ConfigMap too.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {MODE: prod, app.conf: \"listen 80\\n\"}\n---\n";
    std::fs::write(
        &again,
        format!("{cm}{}", std::fs::read_to_string(&again).unwrap()),
    )
    .unwrap();
    env.berth(&["kube", "play", again.to_str().unwrap()]).ok();
    assert_eq!(
        http_get("127.0.0.1", port),
        "mode=prod pod=shop\nlisten 80\nhunter2"
    );
    let down = env
        .berth(&["kube", "down", "--force", again.to_str().unwrap()])
        .ok();
    assert!(down.contains("shop"), "{down}");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.berth(&["pod", "ls", "-q"]).ok(), "");
    assert_eq!(env.berth(&["secret", "ls", "-q"]).ok(), "");
}

#[test]
fn bad_play_files_change_nothing() {
    let env = Env::with_busybox();
    let bad = env.path("bad.yaml");
    for (text, needle) in [
        ("kind: Pod\nmetadata: {}\n", "a Pod without metadata.name"),
        ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n", "a container needs a name and an image"),
        ("kind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: c, image: busybox, securityContext: {runAsNonRoot: true}}]}\n", "runAsNonRoot is true and image busybox runs as root"),
        ("{ not: yaml: at all", "not YAML that reads"),
        ("kind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: busybox}]}}}\n", "Deployment d: spec.selector.matchLabels does not match"),
        ("kind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: [{name: c, image: busybox}]}}}\n", "Job j: spec.template.spec.restartPolicy must be Never or OnFailure"),
        ("kind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: c, image: busybox, env: [{name: A, valueFrom: {configMapKeyRef: {name: cm, key: nokey}}}]}]}\n---\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n", "env A: ConfigMap cm has no key nokey"),
        ("kind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: c, image: busybox, volumeMounts: [{name: h, mountPath: /h}]}], volumes: [{name: h, hostPath: {path: /nonexistent-berth, type: Directory}}]}\n", "volume h: hostPath /nonexistent-berth: is not a Directory"),
        ("kind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: c, image: nosuchimage, imagePullPolicy: Never}]}\n", "image nosuchimage is not here and its imagePullPolicy is Never"),
        ("kind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: c, image: busybox, imagePullPolicy: Sometimes}]}\n", "imagePullPolicy \"Sometimes\" is not Always, IfNotPresent or Never"),
        ("kind: Pod\nmetadata: {name: px, labels: {a: b}}\nspec: {containers: [{name: c, image: busybox}]}\n---\nkind: Service\nmetadata: {name: s}\nspec: {selector: {a: b}, ports: [{port: 80, targetPort: web}]}\n", "Service s: targetPort web names no port of pod px"),
        ("kind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: c, image: busybox, livenessProbe: {httpGet: {port: web}}}]}\n", "container px/c: livenessProbe: port \"web\" names no port"),
    ] {
        std::fs::write(&bad, text).unwrap();
        env.berth(&["kube", "play", bad.to_str().unwrap()]).fails(1, needle);
    }
    // A failure half-way (an image that is not here) takes back what the play made.
    std::fs::write(
        &bad,
        "kind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n---\nkind: Pod\nmetadata: {name: px}\nspec: {containers: [{name: ok, image: busybox, args: [sleep, '30']}, {name: missing, image: nosuchimage}]}\n",
    )
    .unwrap();
    env.berth(&["kube", "play", bad.to_str().unwrap()])
        .fails(1, "No such image");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.berth(&["pod", "ls", "-q"]).ok(), "");
    assert_eq!(env.berth(&["secret", "ls", "-q"]).ok(), "");
    // A hostPort taken: the second pod fails, and the first goes with it.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::write(
        &bad,
        format!("kind: Pod\nmetadata: {{name: first}}\nspec: {{containers: [{{name: c, image: busybox, args: [sleep, '30']}}]}}\n---\nkind: Pod\nmetadata: {{name: second}}\nspec: {{containers: [{{name: c, image: busybox, args: [sleep, '30'], ports: [{{containerPort: 80, hostPort: {port}}}]}}]}}\n"),
    )
    .unwrap();
    env.berth(&["kube", "play", bad.to_str().unwrap()])
        .fails(1, "port is already allocated");
    drop(taken);
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.berth(&["pod", "ls", "-q"]).ok(), "");
    let nets = env.berth(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!nets.contains("kube-"), "{nets}");
    env.berth(&["kube", "play", "/nonexistent.yaml"])
        .fails(1, "reading /nonexistent.yaml");
}

#[test]
fn services_probes_and_a_job_behave_as_on_a_cluster() {
    let env = Env::with_busybox();
    let node_port = free_port();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kube-services.yaml"),
    )
    .unwrap()
    .replace("NODEPORT", &node_port.to_string());
    let file = env.path("services.yaml");
    std::fs::write(&file, text).unwrap();
    let r = env.berth(&["kube", "play", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Networks:\nkube-web\n"), "{}", r.stdout);
    assert!(r.stderr.is_empty(), "nothing left out: {}", r.stderr);

    // The NodePort answers on the host, from the pods' port 8080.
    assert_eq!(
        http_get("127.0.0.1", node_port),
        "hello from the deployment\n"
    );
    // Readiness (an httpGet berth makes: busybox has no curl) is the health status.
    for i in 0..3 {
        let c = format!("web-pod-{i}-httpd");
        common::wait_until("a ready web pod", || {
            env.inspect(&c, "{{.State.Health.Status}}") == "healthy"
        });
    }
    let env_line = env.berth(&["exec", "web-pod-0-httpd", "sh", "-c", "echo $MEMORY_MI $API_KEY; stat -c %a /www/index.html; cat /work/stamp /run/token/api-key"]).ok();
    assert_eq!(env_line, "64 s3cr3t-api-key\n444\nstamped\ns3cr3t-api-key");
    // The claim is a volume the replicas share, and stays after down.
    env.berth(&[
        "exec",
        "web-pod-1-logger",
        "sh",
        "-c",
        "echo kept > /data/f",
    ])
    .ok();
    assert_eq!(
        env.berth(&["exec", "web-pod-2-logger", "cat", "/data/f"])
            .ok(),
        "kept\n"
    );
    // The Job reaches the Service by name on port 80 (the pods listen on
    // 8080), retried in place until it does.
    common::wait_until("the job to finish", || {
        env.inspect("fetch-pod-get", "{{.State.Status}}") == "exited"
    });
    assert_eq!(env.inspect("fetch-pod-get", "{{.State.ExitCode}}"), "0");
    let logs = env.berth(&["logs", "fetch-pod-get"]).ok();
    assert!(logs.contains("hello from the deployment"), "{logs}");
    // A failing liveness probe ends the container; Always restarts it.
    common::wait_until("flaky to be restarted", || {
        env.inspect("flaky-app", "{{.RestartCount}}")
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)
    });

    // What generate says of a played pod keeps its probes, and passes the schemas.
    let (docs, generated) = generate(&env, &["web-pod-0"]);
    let pod = docs.iter().find(|d| d["kind"] == "Pod").unwrap();
    let c = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "httpd")
        .unwrap();
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(c["startupProbe"]["tcpSocket"]["port"], 8080);
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    assert!(
        volumes.iter().any(|v| v["configMap"]["name"] == "site"),
        "{volumes:?}"
    );
    assert!(
        volumes
            .iter()
            .any(|v| v["emptyDir"] == serde_json::json!({})),
        "{volumes:?}"
    );
    // Only the claim is a PersistentVolumeClaim (the emptyDir stays one).
    let claims: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "PersistentVolumeClaim")
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    valid(&generated);

    let down = env.berth(&["kube", "down", file.to_str().unwrap()]).ok();
    assert!(down.contains("Networks:\nkube-web"), "{down}");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.berth(&["pod", "ls", "-q"]).ok(), "");
    let nets = env.berth(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!nets.contains("kube-web"), "{nets}");
    assert_eq!(env.berth(&["volume", "ls", "-q"]).ok(), "web-data\n");
    assert_eq!(env.berth(&["secret", "ls", "-q"]).ok(), "");
    assert!(
        std::fs::read_dir(env.root().join("kube/configmaps"))
            .map_or(true, |mut d| d.next().is_none()),
        "ConfigMap files left"
    );
}

#[test]
fn play_takes_a_network_ports_and_config_maps_from_the_command_line() {
    let env = Env::with_busybox();
    env.berth(&["network", "create", "mine"]).ok();
    let cm = env.path("cm.yaml");
    std::fs::write(
        &cm,
        "kind: ConfigMap\nmetadata: {name: settings}\ndata: {GREETING: hi-from-configmap}\n",
    )
    .unwrap();
    let pod = env.path("pod.yaml");
    std::fs::write(
        &pod,
        "kind: Pod\nmetadata: {name: greeter}\nspec:\n  containers:\n  - name: web\n    image: busybox\n    command: [sh, -c, 'mkdir /www; echo $GREETING > /www/index.html; exec httpd -f -p 80 -h /www']\n    envFrom: [{configMapRef: {name: settings}}]\n    ports: [{containerPort: 80}]\n",
    )
    .unwrap();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.berth(&["kube", "play", pod.to_str().unwrap()]).fails(
        1,
        "ConfigMap settings is in neither the file nor a --configmap file",
    );
    // The flags' bad values: one clear error each, nothing made.
    let (cm_path, pod_path) = (cm.to_str().unwrap(), pod.to_str().unwrap());
    env.berth(&[
        "kube",
        "play",
        "--network",
        "nosuchnet",
        "--configmap",
        cm_path,
        pod_path,
    ])
    .fails(1, "nosuchnet");
    env.berth(&["kube", "play", "--publish", "notaport:80", pod_path])
        .fails(125, "notaport");
    env.berth(&["kube", "play", "--configmap", pod_path, pod_path])
        .fails(1, "--configmap file 1: no ConfigMap in it");
    assert_eq!(env.berth(&["pod", "ls", "-q"]).ok(), "");
    let r = env.berth(&[
        "kube",
        "play",
        "--network",
        "mine",
        "--publish",
        &publish,
        "--configmap",
        cm.to_str().unwrap(),
        pod.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("Networks:"), "{}", r.stdout);
    assert_eq!(http_get("127.0.0.1", port), "hi-from-configmap\n");
    let infra = env
        .berth(&[
            "pod",
            "inspect",
            "--format",
            "{{.InfraContainerID}}",
            "greeter",
        ])
        .ok();
    let nets = env.inspect(
        infra.trim(),
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
    );
    assert_eq!(nets, "mine");
    env.berth(&["kube", "play", "--publish", "80", pod.to_str().unwrap()])
        .fails(1, "pod greeter already exists");
    env.berth(&["kube", "down", pod.to_str().unwrap()]).ok();
    // The user's network stays.
    env.berth(&["network", "inspect", "mine"]).ok();
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");

    // --build: an image named after a directory here is built from it
    // (when it is missing, and with --build even when it is not).
    let ctx = env.path("work/greet");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM busybox\nRUN echo built-one > /built\n",
    )
    .unwrap();
    let built = env.path("work/built.yaml");
    std::fs::write(
        &built,
        "kind: Pod\nmetadata: {name: built}\nspec: {restartPolicy: Never, containers: [{name: c, image: localhost/greet:1, command: [cat, /built]}]}\n",
    )
    .unwrap();
    let play_in_work = |extra: &[&str]| {
        let mut args = vec!["kube", "play"];
        args.extend_from_slice(extra);
        args.push("built.yaml");
        let mut cmd = env.cmd(&args);
        cmd.current_dir(env.path("work"));
        env.output(cmd)
    };
    play_in_work(&["--build=false"]).fails(1, "localhost/greet:1");
    let r = play_in_work(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    common::wait_until("the built pod to finish", || {
        env.inspect("built-c", "{{.State.Status}}") == "exited"
    });
    assert_eq!(env.berth(&["logs", "built-c"]).ok(), "built-one\n");
    env.berth(&["kube", "down", built.to_str().unwrap()]).ok();

    // hostname, hostNetwork and a seccomp profile, as the pod spec gives them.
    let host = env.path("host.yaml");
    std::fs::write(
        &host,
        "kind: Pod\nmetadata: {name: named}\nspec: {hostname: custom-host, containers: [{name: c, image: busybox, args: [sleep, '30'], securityContext: {seccompProfile: {type: Unconfined}}}]}\n---\nkind: Pod\nmetadata: {name: onhost}\nspec: {hostNetwork: true, containers: [{name: c, image: busybox, args: [sleep, '30']}]}\n",
    )
    .unwrap();
    env.berth(&["kube", "play", host.to_str().unwrap()]).ok();
    assert_eq!(
        env.berth(&["exec", "named-c", "hostname"]).ok(),
        "custom-host\n"
    );
    assert_eq!(
        env.inspect("named-c", "{{.HostConfig.SecurityOpt}}"),
        "[seccomp=unconfined]"
    );
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let inside = env
        .berth(&["exec", "onhost-c", "readlink", "/proc/self/ns/net"])
        .ok();
    assert_eq!(inside.trim(), host_ns.to_str().unwrap());
    env.berth(&["kube", "down", host.to_str().unwrap()]).ok();

    std::fs::write(
        ctx.join("Containerfile"),
        "FROM busybox\nRUN echo built-two > /built\n",
    )
    .unwrap();
    play_in_work(&["--build"]).ok();
    common::wait_until("the rebuilt pod to finish", || {
        env.inspect("built-c", "{{.State.Status}}") == "exited"
    });
    assert_eq!(env.berth(&["logs", "built-c"]).ok(), "built-two\n");
    env.berth(&["kube", "down", built.to_str().unwrap()]).ok();
}
