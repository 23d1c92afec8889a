// k8s-validate.mjs - validates rendered Kubernetes manifests (e.g. `helm template` output)
// against the Kubernetes API schemas of kubernetes-models (and prometheus-operator's for
// ServiceMonitor), installed by tests/tools/k8s-tools.sh.
//
// Usage: node tests/tools/k8s-validate.mjs TOOLS_DIR FILE...   ("-" = stdin)
// Prints one line per object ("ok Kind/name" or "INVALID Kind/name: reason") and exits 1 if any
// object is invalid, of an unknown kind or lacks apiVersion/kind/metadata.name.
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [toolsDir, ...files] = process.argv.slice(2);
if (!toolsDir || files.length === 0) {
  console.error("usage: node k8s-validate.mjs TOOLS_DIR FILE...");
  process.exit(2);
}
const nm = path.join(toolsDir, "node_modules");
const YAML = createRequire(nm + "/")("yaml");

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  if (group === "monitoring.coreos.com")
    return path.join(nm, "@kubernetes-models/prometheus-operator", group, version, kind + ".js");
  return path.join(nm, "kubernetes-models", ...(group ? [group] : []), version, kind + ".js");
}

let bad = 0, count = 0;
for (const f of files) {
  const text = readFileSync(f === "-" ? 0 : f, "utf8");
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) { console.log(`INVALID yaml in ${f}: ${doc.errors[0].message}`); bad++; continue; }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    count++;
    const name = `${obj.kind}/${obj.metadata?.name}`;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) { console.log(`INVALID ${name}: apiVersion, kind and metadata.name are required`); bad++; continue; }
    const mod = modulePath(obj.apiVersion, obj.kind);
    if (!existsSync(mod)) { console.log(`INVALID ${name}: unknown kind ${obj.apiVersion} ${obj.kind}`); bad++; continue; }
    const Cls = (await import(pathToFileURL(mod)))[obj.kind];
    try {
      new Cls(obj).validate();
      console.log(`ok ${name}`);
    } catch (e) {
      console.log(`INVALID ${name}: ${String(e.message).split("\n")[0]}`);
      bad++;
    }
  }
}
console.log(`k8s-validate: ${count} objects, ${bad} invalid`);
process.exit(bad || count === 0 ? 1 : 0);
