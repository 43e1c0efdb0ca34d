//! `GET /v1/docs`: the OpenAPI document rendered as one self-contained HTML page (inline
//! style, no script, nothing fetched from elsewhere): a table of contents, each operation
//! with its method, path, authentication, summary, parameters, request and response schemas
//! and error codes, the schemas, and the error catalogue.

use std::fmt::Write as _;

use serde_json::Value;

use super::{ERROR_CATALOGUE_EXTENSION, ERROR_CODES_EXTENSION};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

const STYLE: &str = "
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d232b;background:#fafbfc}
header,main,nav{max-width:1080px;margin:0 auto;padding:0 24px}
header{padding-top:24px}
h1{margin:0 0 4px}h2{margin-top:48px;border-bottom:2px solid #d7dde4;padding-bottom:4px}
h3{margin:0;font-size:17px;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f4;padding:1px 4px;border-radius:3px}
a{color:#0b5cad;text-decoration:none}a:hover{text-decoration:underline}
nav{columns:2 320px;font-size:14px}nav h4{margin:12px 0 4px;break-after:avoid}
nav ul{list-style:none;margin:0;padding:0}nav li{break-inside:avoid;margin:2px 0}
.op{background:#fff;border:1px solid #d7dde4;border-radius:6px;padding:16px 18px;margin:18px 0}
.m{font:bold 12px ui-monospace,monospace;color:#fff;border-radius:3px;padding:2px 7px;text-transform:uppercase}
.get{background:#2f7d32}.post{background:#0b5cad}.put{background:#9a6400}.delete{background:#b3261e}.patch{background:#6a3fa0}
.auth{font-size:12px;border:1px solid #9aa6b2;border-radius:10px;padding:0 8px;color:#4a5561}
table{border-collapse:collapse;width:100%;margin:8px 0 4px;font-size:14px}
th,td{border-bottom:1px solid #e3e7eb;text-align:left;padding:5px 8px;vertical-align:top}
th{background:#f1f3f5;font-weight:600}
.muted{color:#5b6670}.label{font-weight:600;margin:12px 0 0}
";

/// The page for `document` (the OpenAPI document as JSON).
pub fn render(document: &Value) -> String {
    let title = text(&document["info"]["title"]);
    let version = text(&document["info"]["version"]);
    let operations = operations(document);
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} API reference</title><style>{STYLE}</style></head><body>\n\
         <header><h1>{} API reference</h1><p class=\"muted\">Version {} · OpenAPI {} · \
         machine-readable: <a href=\"/v1/openapi.json\"><code>/v1/openapi.json</code></a></p>{}</header>\n",
        escape(&title),
        escape(&title),
        escape(&version),
        escape(&text(&document["openapi"])),
        paragraphs(&text(&document["info"]["description"])),
    );
    let tags = tags(document);
    page.push_str("<nav><h2>Contents</h2>\n");
    for (tag, _) in &tags {
        let _ = write!(page, "<h4>{}</h4><ul>", escape(tag));
        for operation in operations.iter().filter(|op| &op.tag == tag) {
            let _ = write!(
                page,
                "<li><a href=\"#{}\"><span class=\"m {}\">{}</span> <code>{}</code></a> {}</li>",
                escape(&operation.id),
                operation.method,
                operation.method,
                escape(&operation.path),
                escape(&text(&operation.body["summary"])),
            );
        }
        page.push_str("</ul>");
    }
    page.push_str(
        "<h4>Reference</h4><ul><li><a href=\"#schemas\">Schemas</a></li>\
         <li><a href=\"#errors\">Error catalogue</a></li></ul></nav>\n<main>\n",
    );
    for (tag, description) in &tags {
        let _ = writeln!(
            page,
            "<h2 id=\"tag-{}\">{}</h2>{}",
            anchor(tag),
            escape(tag),
            paragraphs(description)
        );
        for operation in operations.iter().filter(|op| &op.tag == tag) {
            render_operation(&mut page, operation);
        }
    }
    render_schemas(&mut page, &document["components"]["schemas"]);
    render_catalogue(&mut page, &document[ERROR_CATALOGUE_EXTENSION]);
    page.push_str("</main></body></html>\n");
    page
}

struct Operation<'a> {
    id: String,
    tag: String,
    method: &'static str,
    path: String,
    body: &'a Value,
}

fn operations(document: &Value) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    for (path, item) in entries(&document["paths"]) {
        for method in METHODS {
            let body = &item[*method];
            if body.is_object() {
                found.push(Operation {
                    id: text(&body["operationId"]),
                    tag: text(&body["tags"][0]),
                    method,
                    path: path.clone(),
                    body,
                });
            }
        }
    }
    found
}

fn tags(document: &Value) -> Vec<(String, String)> {
    document["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|tag| (text(&tag["name"]), text(&tag["description"])))
                .collect()
        })
        .unwrap_or_default()
}

fn render_operation(page: &mut String, operation: &Operation) {
    let body = operation.body;
    let auth = if body["security"].is_array() {
        "bearer token"
    } else {
        "public"
    };
    let _ = write!(
        page,
        "<section class=\"op\" id=\"{}\"><h3><span class=\"m {}\">{}</span><code>{}</code>\
         <span class=\"auth\">{}</span></h3><p>{}</p><p class=\"muted\">Operation <code>{}</code></p>",
        escape(&operation.id),
        operation.method,
        operation.method,
        escape(&operation.path),
        auth,
        inline(&text(&body["summary"])),
        escape(&operation.id),
    );
    if let Some(parameters) = body["parameters"].as_array().filter(|p| !p.is_empty()) {
        page.push_str(
            "<p class=\"label\">Parameters</p><table><tr><th>name</th><th>in</th>\
             <th>required</th><th>type</th><th>description</th></tr>",
        );
        for parameter in parameters {
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text(&parameter["name"])),
                escape(&text(&parameter["in"])),
                if parameter["required"] == Value::Bool(true) {
                    "yes"
                } else {
                    "no"
                },
                type_of(&parameter["schema"]),
                inline(&text(&parameter["description"])),
            );
        }
        page.push_str("</table>");
    }
    if let Some(content) = body["requestBody"]["content"].as_object() {
        for (media_type, content) in content {
            let _ = write!(
                page,
                "<p class=\"label\">Request body</p><p><code>{}</code> {}</p>",
                escape(media_type),
                type_of(&content["schema"]),
            );
        }
    }
    let responses: Vec<(&String, &Value)> = entries(&body["responses"]).collect();
    page.push_str(
        "<p class=\"label\">Responses</p><table><tr><th>status</th><th>body</th>\
         <th>description</th></tr>",
    );
    for (status, response) in responses
        .iter()
        .filter(|(_, response)| response.get(ERROR_CODES_EXTENSION).is_none())
    {
        let schemas: Vec<String> = entries(&response["content"])
            .map(|(media_type, content)| {
                format!(
                    "<code>{}</code> {}",
                    escape(media_type),
                    type_of(&content["schema"])
                )
            })
            .collect();
        let headers: Vec<String> = entries(&response["headers"])
            .map(|(name, _)| name)
            .filter(|name| !name.starts_with("X-"))
            .map(|name| format!("<code>{}</code>", escape(name)))
            .collect();
        let headers = if headers.is_empty() {
            String::new()
        } else {
            format!(
                "<br><span class=\"muted\">headers: {}</span>",
                headers.join(", ")
            )
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            escape(status),
            schemas.join("<br>"),
            inline(&text(&response["description"])),
            headers,
        );
    }
    page.push_str("</table><p class=\"label\">Errors</p><table><tr><th>status</th><th>code</th><th>message</th></tr>");
    for (status, response) in &responses {
        let Some(codes) = response[ERROR_CODES_EXTENSION].as_array() else {
            continue;
        };
        let examples = &response["content"]["application/json"]["examples"];
        for code in codes {
            let code = text(code);
            let _ = write!(
                page,
                "<tr><td>{}</td><td><a href=\"#error-{}\"><code>{}</code></a></td><td>{}</td></tr>",
                escape(status),
                anchor(&code),
                escape(&code),
                escape(&text(&examples[&code]["value"]["error"]["message"])),
            );
        }
    }
    page.push_str("</table></section>\n");
}

fn render_schemas(page: &mut String, schemas: &Value) {
    page.push_str("<h2 id=\"schemas\">Schemas</h2>\n");
    for (name, schema) in entries(schemas) {
        let _ = write!(
            page,
            "<section class=\"op\" id=\"schema-{}\"><h3><code>{}</code></h3>{}",
            anchor(name),
            escape(name),
            paragraphs(&text(&schema["description"])),
        );
        render_schema_body(page, schema);
        page.push_str("</section>\n");
    }
}

fn render_schema_body(page: &mut String, schema: &Value) {
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|value| format!("<code>{}</code>", escape(&text(value))))
            .collect();
        let _ = write!(page, "<p>One of: {}</p>", values.join(", "));
    }
    if let Some(properties) = schema["properties"].as_object() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        page.push_str(
            "<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>",
        );
        for (name, property) in properties {
            let _ = write!(
                page,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                type_of(property),
                if required.contains(&name.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                inline(&text(&property["description"])),
            );
        }
        page.push_str("</table>");
    }
    for (keyword, label) in [
        ("allOf", "All of"),
        ("oneOf", "One of"),
        ("anyOf", "Any of"),
    ] {
        if let Some(parts) = schema[keyword].as_array() {
            let _ = write!(page, "<p class=\"label\">{label}</p>");
            for part in parts {
                if part.get("properties").is_some() || part.get("enum").is_some() {
                    render_schema_body(page, part);
                } else {
                    let _ = write!(page, "<p>{}</p>", type_of(part));
                }
            }
        }
    }
}

fn render_catalogue(page: &mut String, catalogue: &Value) {
    page.push_str(
        "<h2 id=\"errors\">Error catalogue</h2><p>Every error answer is \
         <code>{\"error\": {\"code\", \"message\", \"retryable\", \"details\", \"request_id\"}}</code>. \
         A retryable error may succeed when the same request is sent again later.</p>\n",
    );
    let entries = catalogue.as_array().cloned().unwrap_or_default();
    let mut areas: Vec<String> = Vec::new();
    for entry in &entries {
        let area = text(&entry["area"]);
        if !areas.contains(&area) {
            areas.push(area);
        }
    }
    for area in areas {
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th>code</th><th>status</th><th>retryable</th><th>message</th></tr>",
            escape(&area)
        );
        for entry in entries.iter().filter(|entry| text(&entry["area"]) == area) {
            let code = text(&entry["code"]);
            let _ = write!(
                page,
                "<tr id=\"error-{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                anchor(&code),
                escape(&code),
                escape(&text(&entry["status"])),
                if entry["retryable"] == Value::Bool(true) {
                    "yes"
                } else {
                    "no"
                },
                escape(&text(&entry["message"])),
            );
        }
        page.push_str("</table>");
    }
}

/// A schema's type in a few words, with referenced schemas linked.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!(
            "<a href=\"#schema-{}\"><code>{}</code></a>",
            anchor(name),
            escape(name)
        );
    }
    for keyword in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[keyword].as_array() {
            let parts: Vec<String> = parts.iter().map(type_of).collect();
            let joiner = if keyword == "allOf" { " &amp; " } else { " | " };
            return parts.join(joiner);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|value| format!("<code>{}</code>", escape(&text(value))))
            .collect();
        return values.join(" | ");
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(name) => vec![name.clone()],
        Value::Array(names) => names.iter().map(text).collect(),
        _ => vec!["any".to_string()],
    };
    types
        .iter()
        .map(|name| match name.as_str() {
            "array" => format!("array of {}", type_of(&schema["items"])),
            "object" if schema["additionalProperties"].is_object() => {
                format!("map of {}", type_of(&schema["additionalProperties"]))
            }
            other => escape(other),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The members of an object (none for anything else).
fn entries(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value.as_object().into_iter().flatten()
}

/// A string value as text; numbers and booleans as written; anything else empty.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => String::new(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with Markdown's `code` spans.
fn inline(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .filter(|part| !part.trim().is_empty())
        .map(|part| format!("<p>{}</p>", inline(part)))
        .collect()
}

/// An id attribute from a name: letters, digits and dashes.
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ErrorCode, ROUTES};

    #[test]
    fn the_page_shows_every_route_its_errors_and_the_catalogue() {
        let document = super::super::document().unwrap();
        let page = render(&document);
        assert!(page.starts_with("<!doctype html>"));
        for route in ROUTES {
            assert!(page.contains(&format!("id=\"{}\"", route.id)), "{route:?}");
            assert!(
                page.contains(&format!("href=\"#{}\"", route.id)),
                "{route:?}"
            );
            assert!(page.contains(&format!("<code>{}</code>", escape(route.path))));
        }
        for code in ErrorCode::ALL {
            assert!(page.contains(&format!("id=\"error-{}\"", anchor(&code.as_str()))));
        }
        // Self-contained: nothing is loaded from elsewhere.
        for external in [
            "<script", "<link", "<img", "<iframe", " src=", "@import", "url(",
        ] {
            assert!(!page.contains(external), "{external}");
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            inline("use `If-Match` <now>"),
            "use <code>If-Match</code> &lt;now&gt;"
        );
    }
}
