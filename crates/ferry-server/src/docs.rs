//! `/docs`: one self-contained HTML page (no CDN, no external script) listing each
//! model's inputs and outputs, example requests as curl commands, and a form to send
//! them from the browser.

use std::fmt::Write;

use crate::openapi::Examples;
use crate::state::AppState;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
code,pre,textarea{font-family:ui-monospace,monospace;font-size:.9rem}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}\
textarea{width:100%;height:7rem}section{border-top:1px solid #ddd;margin-top:1.5rem}";

const SCRIPT: &str = "async function send(id,path){const body=document.getElementById(id).value;\
const token=document.getElementById('token').value;const headers={'Content-Type':'application/json'};\
if(token)headers['Authorization']='Bearer '+token;const out=document.getElementById(id+'-out');\
try{const r=await fetch(path,{method:'POST',headers,body});out.textContent=r.status+' '+await r.text();}\
catch(e){out.textContent=String(e);}}";

pub fn page(state: &AppState) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ferry API</title><style>{STYLE}</style>\
         <script>{SCRIPT}</script></head><body><h1>ferry {}</h1>\
         <p>The same models over three protocols: Open Inference Protocol v2 (<code>/v2/models/NAME/infer</code>), \
         MLflow (<code>/models/NAME/invocations</code>) and vetiver (<code>/models/NAME/predict</code>). \
         Unprefixed <code>/invocations</code> and <code>/predict</code> serve the first model. \
         The machine-readable description is <a href=\"/openapi.json\">/openapi.json</a>; metrics are at \
         <a href=\"/metrics\">/metrics</a>.</p>\
         <p><label>Bearer token (if the server needs one): <input id=\"token\" type=\"password\"></label></p>",
        env!("CARGO_PKG_VERSION")
    );
    for (m, slot) in state.slots().iter().enumerate() {
        let loaded = slot.current();
        let schema = &loaded.schema;
        let name = escape(&slot.name);
        let _ = write!(
            html,
            "<section><h2>{name}</h2><p>version <code>{}</code>, from <code>{}</code></p>\
             <table><tr><th>input</th><th>type</th><th>missing allowed in training</th><th>categories</th></tr>",
            escape(&loaded.served.version),
            escape(&loaded.served.source)
        );
        for input in &schema.inputs {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&input.name),
                input.datatype(),
                if input.nullable { "yes" } else { "no" },
                escape(
                    &input
                        .levels
                        .as_ref()
                        .map(|l| l.join(", "))
                        .unwrap_or_default()
                )
            );
        }
        let _ = write!(
            html,
            "</table><p>outputs: {}</p>",
            schema
                .outputs
                .iter()
                .map(|o| format!("<code>{}</code> ({})", escape(&o.name), o.datatype))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let examples = Examples::new(schema);
        for (k, (label, path, body)) in [
            (
                "vetiver",
                format!("/models/{}/predict", slot.name),
                &examples.vetiver,
            ),
            (
                "MLflow",
                format!("/models/{}/invocations", slot.name),
                &examples.mlflow,
            ),
            (
                "Open Inference Protocol v2",
                format!("/v2/models/{}/infer", slot.name),
                &examples.oip,
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let id = format!("m{m}-{k}");
            let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
            let compact = serde_json::to_string(body).unwrap_or_default();
            let path = escape(&path);
            let _ = write!(
                html,
                "<h3>{label}: <code>POST {path}</code></h3>\
                 <pre>curl -s http://HOST:PORT{path} -H 'Content-Type: application/json' -d '{}'</pre>\
                 <textarea id=\"{id}\">{}</textarea>\
                 <button onclick=\"send('{id}','{path}')\">Send</button><pre id=\"{id}-out\"></pre>",
                escape(&compact.replace('\'', "'\\''")),
                escape(&pretty)
            );
        }
        html.push_str("</section>");
    }
    html.push_str("</body></html>");
    html
}
