//! The archive contract on both families: `embedded::<case>` runs on a `DirArchive` in a
//! fresh tempdir, `aws::<case>` on an `S3Archive` over a fresh bucket in moto.
//!
//! Links: the embedded family follows a link as the local server does (`verify_link` on the
//! URL's query, then `get`); the AWS family fetches the presigned URL over plain HTTP. Moto
//! does not check presigned signatures or expiry, so refusal of tampered and expired links is
//! tested on the embedded family only, and for S3 the URL's `X-Amz-Expires` is checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use walletless_tests::contract::archive as contract;

/// One test per contract case, each on a fresh adapter from the enclosing module's
/// `fresh()`, which returns the adapter, its link probe and a guard for its resources.
macro_rules! archive_contract {
    () => {
        archive_contract! {
            single: [
                put_get_round_trip,
                large_object_round_trip,
                overwrite_replaces_the_object,
                missing_object_is_not_found,
                keys_that_prefix_each_other_coexist,
                invalid_keys_are_refused,
                invalid_content_types_are_refused,
                link_lifetime_is_bounded,
                concurrent_overwrites_are_atomic,
                health_ok,
                streamed_upload_round_trip,
                streamed_upload_is_invisible_until_finished,
                aborted_upload_leaves_nothing,
                empty_streamed_upload_is_an_empty_object,
                start_upload_refuses_invalid_keys_and_content_types,
            ],
            links: [
                download_link_fetches_the_object,
                download_link_to_a_missing_object_fails,
                download_link_states_its_lifetime,
            ],
        }
    };
    (single: [$($case:ident),* $(,)?], links: [$($link_case:ident),* $(,)?] $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (archive, _probe, _guard) = fresh().await;
                super::contract::$case(archive).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $link_case() {
                let (archive, probe, _guard) = fresh().await;
                super::contract::$link_case(archive, &*probe).await;
            }
        )*
    };
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// The value of query parameter `name` in `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

mod embedded {
    use super::{contract, query_param, unix_now};
    use contract::LinkProbe;
    use futures::future::BoxFuture;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use walletless::adapters::embedded::dir_archive::{DirArchive, LinkError};
    use walletless::ports::Archive;
    use walletless::ports::archive::UPLOAD_PART_BYTES;

    const BASE_URL: &str = "http://127.0.0.1:8080/";

    /// What the local server does with `GET /v1/archive/{key}?expires=&signature=`.
    struct LocalServerProbe(Arc<DirArchive>);

    impl LocalServerProbe {
        fn check(&self, url: &str) -> Result<String, LinkError> {
            let parsed = reqwest::Url::parse(url).unwrap();
            let key = parsed
                .as_str()
                .strip_prefix(&format!("{BASE_URL}v1/archive/"))
                .and_then(|rest| rest.split('?').next())
                .unwrap()
                .to_owned();
            let expires = query_param(url, "expires").unwrap().parse().unwrap();
            let signature = query_param(url, "signature").unwrap();
            self.0.verify_link(&key, expires, &signature)?;
            Ok(key)
        }
    }

    impl LinkProbe for LocalServerProbe {
        fn download<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>> {
            Box::pin(async move {
                let key = self.check(url).map_err(|error| error.to_string())?;
                let object = self.0.get(&key).await.map_err(|error| error.to_string())?;
                Ok(object.body)
            })
        }

        fn stated_lifetime(&self, url: &str) -> Duration {
            let expires: u64 = query_param(url, "expires").unwrap().parse().unwrap();
            Duration::from_secs(expires).saturating_sub(unix_now())
        }
    }

    fn open(dir: &std::path::Path) -> Arc<DirArchive> {
        Arc::new(
            DirArchive::open(
                &dir.join("archive"),
                &dir.join("archive-link.key"),
                BASE_URL.parse().unwrap(),
            )
            .unwrap(),
        )
    }

    async fn fresh() -> (Arc<dyn Archive>, Box<LocalServerProbe>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let archive = open(dir.path());
        (archive.clone(), Box::new(LocalServerProbe(archive)), dir)
    }

    archive_contract!();

    #[tokio::test]
    async fn tampered_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = open(dir.path());
        let probe = LocalServerProbe(archive.clone());
        archive
            .put("a/b", b"x".to_vec(), "text/plain")
            .await
            .unwrap();
        archive
            .put("a/c", b"y".to_vec(), "text/plain")
            .await
            .unwrap();
        let url = archive
            .download_url("a/b", Duration::from_secs(300))
            .await
            .unwrap();
        assert_eq!(probe.download(&url).await.unwrap(), b"x");
        let expires = query_param(&url, "expires").unwrap();
        let signature = query_param(&url, "signature").unwrap();
        let later = (expires.parse::<i64>().unwrap() + 3600).to_string();
        let mut flipped = signature.clone();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(63.., last);
        for tampered in [
            url.replace("/a/b?", "/a/c?"),
            url.replace(&expires, &later),
            url.replace(&signature, &flipped),
        ] {
            assert_ne!(tampered, url);
            assert_eq!(
                probe.check(&tampered),
                Err(LinkError::BadSignature),
                "{tampered}"
            );
        }
        let other_dir = tempfile::tempdir().unwrap();
        let other = open(other_dir.path());
        assert_eq!(
            LocalServerProbe(other).check(&url),
            Err(LinkError::BadSignature),
            "another archive's link key"
        );
    }

    /// Every file under `root`, as sorted paths relative to it.
    fn files_under(root: &Path) -> Vec<String> {
        let mut files = Vec::new();
        let mut directories = vec![root.to_path_buf()];
        while let Some(directory) = directories.pop() {
            for entry in fs::read_dir(&directory).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    directories.push(path);
                } else {
                    let relative = path.strip_prefix(root).unwrap();
                    files.push(relative.to_str().unwrap().to_owned());
                }
            }
        }
        files.sort();
        files
    }

    /// Whole parts reach the disk as they fill (memory stays bounded), in a private staging
    /// file that abort, drop and finish all leave behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_uploads_stage_on_disk_and_leave_no_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        let archive = open(dir.path());
        let root = dir.path().join("archive");
        let more_than_a_part = vec![b'x'; UPLOAD_PART_BYTES + 1];

        let mut aborted = archive
            .start_upload("a/aborted", "text/plain")
            .await
            .unwrap();
        aborted.write(&more_than_a_part).await.unwrap();
        let staged = files_under(&root);
        assert!(
            matches!(staged.as_slice(), [name] if name.starts_with("a/aborted~object~staging-")),
            "{staged:?}"
        );
        let metadata = fs::metadata(root.join(&staged[0])).unwrap();
        assert!(
            metadata.len() >= UPLOAD_PART_BYTES as u64,
            "{}",
            metadata.len()
        );
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        aborted.abort().await.unwrap();
        assert_eq!(files_under(&root), Vec::<String>::new());

        let mut dropped = archive
            .start_upload("a/dropped", "text/plain")
            .await
            .unwrap();
        dropped.write(&more_than_a_part).await.unwrap();
        drop(dropped);
        // The staging file is removed on a blocking thread.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !files_under(&root).is_empty() {
            assert!(Instant::now() < deadline, "left {:?}", files_under(&root));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let mut finished = archive
            .start_upload("a/finished", "text/plain")
            .await
            .unwrap();
        finished.write(&more_than_a_part).await.unwrap();
        finished.finish().await.unwrap();
        assert_eq!(files_under(&root), ["a/finished~object"]);
    }

    #[tokio::test]
    async fn expired_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = open(dir.path());
        let probe = LocalServerProbe(archive.clone());
        archive.put("k", b"x".to_vec(), "text/plain").await.unwrap();
        let url = archive
            .download_url("k", Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(probe.download(&url).await.unwrap(), b"x");
        let expires: u64 = query_param(&url, "expires").unwrap().parse().unwrap();
        let wait = Duration::from_secs(expires).saturating_sub(unix_now());
        assert!(wait <= Duration::from_secs(2), "a 1 s link lasts {wait:?}");
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
        assert_eq!(probe.check(&url), Err(LinkError::Expired));
        assert!(probe.download(&url).await.is_err());
    }
}

mod aws {
    use super::{contract, query_param};
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    use aws_sdk_s3::types::ServerSideEncryption;
    use contract::LinkProbe;
    use futures::future::BoxFuture;
    use std::sync::Arc;
    use std::time::Duration;
    use walletless::adapters::aws::kms::{KEY_SPEC, KEY_USAGE};
    use walletless::adapters::aws::s3::{S3Archive, SSE_KMS, SSE_S3};
    use walletless::ports::archive::UPLOAD_PART_BYTES;
    use walletless::ports::{Archive, ArchiveError};
    use walletless_tests::aws::{emulator_config, unique_name};

    /// An anonymous HTTP client following the presigned URL.
    struct HttpProbe(reqwest::Client);

    impl LinkProbe for HttpProbe {
        fn download<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<u8>, String>> {
            Box::pin(async move {
                let response = self.0.get(url).send().await.map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("HTTP {}", response.status()));
                }
                let body = response.bytes().await.map_err(|e| e.to_string())?;
                Ok(body.to_vec())
            })
        }

        fn stated_lifetime(&self, url: &str) -> Duration {
            Duration::from_secs(query_param(url, "X-Amz-Expires").unwrap().parse().unwrap())
        }
    }

    /// A fresh bucket and KMS key; returns the S3 client, bucket and key ARN.
    async fn provision() -> (aws_sdk_s3::Client, String, String) {
        let config = emulator_config().await;
        let kms = aws_sdk_kms::Client::new(&config);
        let key = kms
            .create_key()
            .key_spec(KeySpec::from(KEY_SPEC))
            .key_usage(KeyUsageType::from(KEY_USAGE))
            .send()
            .await
            .unwrap();
        let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
        let s3 = aws_sdk_s3::Client::new(&config);
        let bucket = unique_name("walletless-archive");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        (s3, bucket, key_arn)
    }

    async fn fresh() -> (Arc<dyn Archive>, Box<HttpProbe>, ()) {
        let (s3, bucket, key_arn) = provision().await;
        let archive = S3Archive::new(s3, bucket, Some(key_arn));
        (
            Arc::new(archive),
            Box::new(HttpProbe(reqwest::Client::new())),
            (),
        )
    }

    archive_contract!();

    #[tokio::test]
    async fn presigned_urls_carry_the_exact_lifetime() {
        let (archive, probe, ()) = fresh().await;
        for (lifetime, stated) in [
            (Duration::from_secs(1), 1),
            (Duration::from_secs(3600), 3600),
            (Duration::from_millis(1500), 2),
            (Duration::from_secs(7 * 24 * 3600), 7 * 24 * 3600),
        ] {
            let url = archive.download_url("k", lifetime).await.unwrap();
            assert_eq!(
                probe.stated_lifetime(&url),
                Duration::from_secs(stated),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn presigned_downloads_keep_the_content_type() {
        let (archive, _probe, ()) = fresh().await;
        archive
            .put("r.csv", b"a,b\n".to_vec(), "text/csv")
            .await
            .unwrap();
        let url = archive
            .download_url("r.csv", Duration::from_secs(60))
            .await
            .unwrap();
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.headers()["content-type"], "text/csv");
    }

    #[tokio::test]
    async fn objects_are_encrypted_at_rest() {
        let (s3, bucket, key_arn) = provision().await;
        let with_kms = S3Archive::new(s3.clone(), bucket.clone(), Some(key_arn.clone()));
        with_kms
            .put("kms", b"x".to_vec(), "text/plain")
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key("kms")
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::from(SSE_KMS))
        );
        assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()));

        let without_kms = S3Archive::new(s3.clone(), bucket.clone(), None);
        without_kms
            .put("s3", b"x".to_vec(), "text/plain")
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key("s3")
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::from(SSE_S3))
        );
    }

    #[tokio::test]
    async fn a_missing_bucket_is_unavailable_and_named() {
        let config = emulator_config().await;
        let bucket = unique_name("walletless-never-created");
        let archive = S3Archive::new(aws_sdk_s3::Client::new(&config), bucket.clone(), None);
        let health = archive.health().await.unwrap_err();
        let put = archive
            .put("k", b"x".to_vec(), "text/plain")
            .await
            .unwrap_err();
        let start_upload = archive.start_upload("k", "text/plain").await.unwrap_err();
        for error in [health, put, start_upload] {
            assert!(
                matches!(&error, ArchiveError::Unavailable(message) if message.contains(&bucket)),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn streamed_objects_are_encrypted_at_rest() {
        let (s3, bucket, key_arn) = provision().await;
        for (kms_key_id, sse) in [(Some(key_arn.clone()), SSE_KMS), (None, SSE_S3)] {
            let archive = S3Archive::new(s3.clone(), bucket.clone(), kms_key_id.clone());
            // The empty object is stored differently, so it is checked too.
            for body in [&b"x"[..], b""] {
                let key = format!("{}/{}", kms_key_id.is_some(), body.len());
                let mut upload = archive.start_upload(&key, "text/plain").await.unwrap();
                upload.write(body).await.unwrap();
                upload.finish().await.unwrap();
                let head = s3
                    .head_object()
                    .bucket(&bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    head.server_side_encryption(),
                    Some(&ServerSideEncryption::from(sse)),
                    "{key}"
                );
                assert_eq!(head.ssekms_key_id(), kms_key_id.as_deref(), "{key}");
            }
        }
    }

    /// Parts go to S3 as they fill, and no multipart upload stays open after abort or finish.
    #[tokio::test]
    async fn parts_are_sent_as_they_fill_and_no_upload_stays_open() {
        let (s3, bucket, key_arn) = provision().await;
        let archive = S3Archive::new(s3.clone(), bucket.clone(), Some(key_arn));
        let open_uploads = || async {
            let listed = s3
                .list_multipart_uploads()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            listed.uploads().to_vec()
        };

        let mut upload = archive.start_upload("big", "text/plain").await.unwrap();
        upload
            .write(&vec![b'x'; UPLOAD_PART_BYTES + 1])
            .await
            .unwrap();
        let [open] = open_uploads().await.try_into().unwrap();
        // Moto answers ListParts with a root element the SDK rejects, so ask it directly.
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
        let parts = reqwest::get(format!(
            "{endpoint}/{bucket}/big?uploadId={}",
            open.upload_id().unwrap()
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert_eq!(parts.matches("<Part>").count(), 1, "{parts}");
        assert!(
            parts.contains(&format!("<Size>{UPLOAD_PART_BYTES}</Size>")),
            "{parts}"
        );
        upload.abort().await.unwrap();
        assert_eq!(open_uploads().await, []);

        for body in [&b""[..], b"x"] {
            let mut upload = archive.start_upload("small", "text/plain").await.unwrap();
            upload.write(body).await.unwrap();
            upload.finish().await.unwrap();
        }
        assert_eq!(open_uploads().await, []);
    }
}
