package sender

// Notification bodies the tests share. Those marked "from senders.md (vendor
// docs)" are the examples in the project's sender reference, quoted from each
// vendor's docs or source (abridgements kept where they are valid JSON); the
// others are built for one edge each.

// from registry-notifications.md: a real manifest push by distribution v3.1.2.
const distPush = `{"events":[{"id":"01a218bb-4fe6-7aa0-b1bb-750e74b5560a","timestamp":"2026-11-26T16:40:58.598696602Z",
 "action":"push",
 "target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
  "digest":"sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845","size":583,"length":583,
  "repository":"demo/app","url":"http://127.0.0.1:40413/v2/demo/app/manifests/sha256:ab6d...","tag":"v1",
  "references":[{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:b1ca...","size":522}]},
 "request":{"id":"...","addr":"127.0.0.1:37876","host":"127.0.0.1:40413","method":"PUT","useragent":"go-containerregistry"},
 "actor":{},"source":{"addr":"vm"}}]}`

// from senders.md (vendor docs): GitLab container registry MR !1203.
const gitlabPush = `{"events": [{"id": "a582a0f3-e620-43e6-8e98-ff850fc9d984", "timestamp": "2023-01-25T14:45:54.17327+11:00",
  "action": "push",
  "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 528, "length": 528,
             "digest": "sha256:af06af3514c44a964d3b905b498cf6493db8f1cde7c10e078213a89c87308ba0",
             "repository": "root/test", "url": "http://registry.test:5000/v2/root/test/manifests/sha256:af06…8ba0",
             "tag": "more-auth"},
  "request": {"id": "8ef8d69b-…", "host": "registry.test:5000", "method": "PUT", "…": "…"},
  "actor": {"name": "root", "user_type": "personal_access_token"}, "source": {"addr": "Jaimes-MBP:5000", "…": "…"}}]}`

// GitLab's rename action (MR !1869): target.rename{type,from,to}, no digest.
const gitlabRename = `{"events":[{"id":"5f0e2c3a-4c1b-4f7e-9d1e-0b6a1c2d3e4f","timestamp":"2024-03-01T10:00:00Z",
 "action":"rename","target":{"repository":"group/old","rename":{"type":"repository","from":"old","to":"new"}},
 "actor":{"name":"root","user_type":"personal_access_token"}}]}`

// from senders.md (vendor docs): Harbor's Default format, goharbor.io "configure webhooks".
const harborDefault = `{"type": "PUSH_ARTIFACT", "occur_at": 1586922308, "operator": "admin",
 "event_data": {"resources": [{"digest": "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8",
                               "tag": "latest", "resource_url": "hub.harbor.com/test-webhook/debian:latest"}],
                "repository": {"date_created": 1586922308, "name": "debian", "namespace": "test-webhook",
                               "repo_full_name": "test-webhook/debian", "repo_type": "private"}}}`

// from senders.md (vendor docs): Harbor's CloudEvents formatter doc comment, an untagged pull.
const harborCloudPull = `{"specversion": "1.0", "requestid": "2eedfab8-61d3-4f3c-8ec3-8f82d1ec4c84", "id": "4b2f89a6-548d-4c12-9993-a1f5790b97d2",
 "source": "/projects/1/webhook/policies/3", "type": "harbor.artifact.pulled", "datacontenttype": "application/json",
 "time": "2023-03-06T06:08:43Z", "operator": "robot$library+scanner-Trivy-51fe4548-…",
 "data": {"resources": [{"digest": "sha256:dde8e930…fe8c", "tag": "sha256:dde8e930…fe8c",
                         "resource_url": "harbor.dev/library/busybox@sha256:dde8e930…fe8c"}],
          "repository": {"name": "busybox", "namespace": "library", "repo_full_name": "library/busybox", "…": "…"}}}`

// A CloudEvents push of a tagged artifact in a nested project path.
const harborCloudPush = `{"specversion":"1.0","id":"9d0c3f4e-2a1b-4c5d-8e7f-112233445566","source":"/projects/2/webhook/policies/7",
 "type":"harbor.artifact.pushed","datacontenttype":"application/json","time":"2026-01-02T03:04:05Z","operator":"ci",
 "data":{"resources":[{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","tag":"v2",
  "resource_url":"harbor.example.com/team/sub/app:v2"}],
  "repository":{"name":"sub/app","namespace":"team","repo_full_name":"team/sub/app","repo_type":"private"}}}`

// An untagged push in the Default format: Harbor puts the digest in tag (a multi-arch child).
const harborUntagged = `{"type":"PUSH_ARTIFACT","occur_at":1700000000,"operator":"ci",
 "event_data":{"resources":[{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  "tag":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  "resource_url":"harbor.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}],
  "repository":{"repo_full_name":"team/app"}}}`

// A quota event: not an artifact event.
const harborQuota = `{"type":"QUOTA_WARNING","occur_at":1700000000,"operator":"",
 "event_data":{"resources":[{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","tag":"v1"}],
  "repository":{"repo_full_name":"team/app"},"custom_attributes":{"Details":"quota usage reached 85%"}}}`

// A replication event: no resources.
const harborReplication = `{"type":"REPLICATION","occur_at":1700000000,"operator":"admin",
 "event_data":{"replication":{"harbor_hostname":"harbor.example.com","job_status":"Success"}}}`

// from senders.md (vendor docs): Red Hat Quay 3.3 "repository notifications".
const quayPush = `{"name": "repository", "repository": "dgangaia/test", "namespace": "dgangaia", "docker_url": "quay.io/dgangaia/test",
 "homepage": "https://quay.io/repository/dgangaia/repository", "updated_tags": ["latest"]}`

// Quay's Test button (RepoPushEvent.get_sample_data).
const quayTest = `{"repository":"team/app","namespace":"team","name":"app","docker_url":"quay.example.com/team/app",
 "homepage":"https://quay.example.com/repository/team/app","updated_tags":["latest","foo"],"pruned_image_count":3}`

// A repository mirror sync: a text message, no tags.
const quayMirror = `{"repository":"team/app","namespace":"team","name":"app","docker_url":"quay.example.com/team/app",
 "homepage":"https://quay.example.com/repository/team/app","message":"TEST NOTIFICATION"}`

// A legacy push naming two tags.
const quayTwoTags = `{"repository":"team/app","updated_tags":["v1","stable"]}`

// from senders.md (vendor docs): JFrog docs "domain docker" data in keel's envelope; the
// abridging "…" in platforms[] is dropped (it is not JSON).
const artifactoryList = `{"domain": "docker", "event_type": "pushed",
 "data": {"repo_key": "docker-remote-cache", "event_type": "pushed", "path": "library/ubuntu/latest/list.manifest.json",
          "name": "list.manifest.json", "sha256": "35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce",
          "size": 1206, "image_name": "library/ubuntu", "tag": "latest",
          "platforms": [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux"}]},
 "subscription_key": "test", "jpd_origin": "https://example.jfrog.io", "source": "jfrog/user@example.com"}`

// A single-platform push: manifest.json.
const artifactoryManifest = `{"domain":"docker","event_type":"pushed","data":{"repo_key":"docker-local","event_type":"pushed",
 "path":"team/app/v1/manifest.json","name":"manifest.json","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
 "size":528,"image_name":"team/app","tag":"v1","image_type":"docker","platforms":[]},
 "subscription_key":"bridge","jpd_origin":"https://art.example.com","source":"jfrog/ci"}`

// A pushed event whose sha256 is not 64 lowercase hex digits.
const artifactoryBadSHA = `{"domain":"docker","event_type":"pushed","data":{"path":"team/app/v1/manifest.json",
 "sha256":"0123ABCD","image_name":"team/app","tag":"v1"}}`

const artifactoryDeleted = `{"domain":"docker","event_type":"deleted","data":{"path":"team/app/v1/manifest.json",
 "sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","image_name":"team/app","tag":"v1"}}`

const artifactoryPromoted = `{"domain":"docker","event_type":"promoted","data":{"path":"team/app/v1/manifest.json",
 "sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","image_name":"team/app","tag":"v1"}}`

// A pushed event on a layer path, not a manifest.
const artifactoryLayer = `{"domain":"docker","event_type":"pushed","data":{"path":"team/app/v1/sha256__0123",
 "sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","image_name":"team/app","tag":"v1"}}`

// An artifact-domain event (a generic deploy).
const artifactoryArtifact = `{"domain":"artifact","event_type":"deployed","data":{"repo_key":"generic-local",
 "path":"dir/manifest.json","name":"manifest.json","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":1}}`

// from senders.md (vendor docs): MicrosoftDocs container-registry-webhook-reference.md, an image push.
const acrPush = `{"id": "cb8c3971-9adc-488b-xxxx-43cbb4974ff5", "timestamp": "2023-11-17T16:52:01.343145347Z", "action": "push",
 "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 524, "length": 524,
            "digest": "sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx", "repository": "hello-world", "tag": "v1"},
 "request": {"id": "3cbb6949-7549-4fa1-xxxx-a6d5451dffc7", "host": "myregistry.azurecr.io", "method": "PUT", "useragent": "docker/17.09.0-ce …"}}`

// The test delivery of `az acr webhook ping` / the portal's Ping button.
const acrPing = `{"id":"2a8b6c1e-1111-2222-3333-444455556666","timestamp":"2026-01-02T03:04:05.123Z","action":"ping",
 "target":{},"request":{"id":"","host":"myregistry.azurecr.io","method":"","useragent":""}}`

// A digest-only push (a multi-arch child): tag "".
const acrChild = `{"id":"7c1d2e3f-0000-1111-2222-333344445555","timestamp":"2026-01-02T03:04:05Z","action":"push",
 "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":100,
 "digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","repository":"team/app","tag":""},
 "request":{"host":"myregistry.azurecr.io","method":"PUT"}}`

const acrQuarantine = `{"id":"q1","timestamp":"2026-01-02T03:04:05Z","action":"quarantine",
 "target":{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","repository":"team/app","tag":"v1"}}`

const acrChartPush = `{"id":"c1","timestamp":"2026-01-02T03:04:05Z","action":"chart_push",
 "target":{"mediaType":"application/vnd.acr.helm.chart","size":25,"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","repository":"helloworld","tag":"0.1.0","name":"helloworld","version":"0.1.0"}}`

// from senders.md (vendor docs): Event Grid's CloudEvents schema for ACR, as the doc
// shows it (an array): not an ACR webhook body.
const acrEventGridArray = `[{"id": "831e1650-001e-001b-66ab-eeb76e069631", "specversion": "1.0", "type": "Microsoft.ContainerRegistry.ImagePushed",
  "source": "/subscriptions/<subscription-id>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>",
  "subject": "aci-helloworld:v1", "time": "2018-04-25T21:39:47.6549614Z",
  "data": {"id": "31c51664-e5bd-416a-a5df-e5206bc47ed0", "action": "push", "target": {"mediaType":
           "application/vnd.docker.distribution.manifest.v2+json", "size": 3023, "repository": "aci-helloworld", "tag": "v1",
           "digest": "sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5"},
           "request": {"host": "demo.azurecr.io", "method": "PUT", "…": "…"}, "…": "…"}}]`
