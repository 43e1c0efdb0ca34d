//! `GET /v1/archive/{key}?expires=..&signature=..`: the embedded archive's signed download
//! links, the local stand-in for S3 presigned URLs. Only the local server has this route; in
//! AWS the links point at S3 itself. The body is streamed from its file, so downloading a
//! large audit export never holds it in memory.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio_util::io::ReaderStream;
use walletless::adapters::embedded::dir_archive::DirArchive;
use walletless::api::{ApiError, ErrorCode};

#[derive(Deserialize)]
struct LinkQuery {
    expires: i64,
    signature: String,
}

pub fn router(archive: Arc<DirArchive>) -> axum::Router {
    axum::Router::new()
        .route("/v1/archive/{*key}", axum::routing::get(download))
        .with_state(archive)
}

async fn download(
    State(archive): State<Arc<DirArchive>>,
    Path(key): Path<String>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let request_id = ulid::Ulid::new().to_string();
    let refuse = |error: ApiError| {
        (error.code.status(), axum::Json(error.body(&request_id))).into_response()
    };
    let Ok(Query(link)) = query else {
        return refuse(ApiError::new(ErrorCode::ArchiveLinkInvalid));
    };
    if let Err(reason) = archive.verify_link(&key, link.expires, &link.signature) {
        tracing::info!(%reason, "archive link refused");
        return refuse(
            ApiError::new(ErrorCode::ArchiveLinkInvalid).with_message(reason.to_string()),
        );
    }
    match archive.open_object(&key).await {
        Ok(object) => {
            let content_type = HeaderValue::from_str(&object.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let body = ReaderStream::new(tokio::fs::File::from_std(object.body));
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_LENGTH, HeaderValue::from(object.length)),
                ],
                Body::from_stream(body),
            )
                .into_response()
        }
        Err(error) => refuse(ApiError::from(error)),
    }
}
