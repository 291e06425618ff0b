//! Files end to end over HTTP: multipart uploads (sniffing, dimensions,
//! limits, the CSRF guard), authorized downloads (tokens, ranges, ETags),
//! attachments and avatars, deleting bytes with their owners, and the
//! orphan sweep. The S3 round trip runs when `TEST_S3_ENDPOINT` points at
//! an S3-compatible server (`scripts/moto.sh`).

use std::{path::PathBuf, sync::Arc, time::Duration};

use api::{
    files::settings::S3Config,
    files::{
        Files,
        storage::{ObjectStorage, Storage},
    },
};
use entity::file;
use reqwest::multipart::{Form, Part};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    TestApp, count_rows, png, query_strings, spawn_app, spawn_app_with, test_config,
    user::{TestUser, ask, code},
};

const UPLOAD: &str = "mutation($file: Upload!) { uploadFile(file: $file) {
    id contentType sizeBytes width height originalName checksum url } }";

/// A GraphQL multipart request (one operation, files mapped in order to
/// `paths`), with or without the CSRF preflight header.
async fn multipart(
    app: &TestApp,
    who: Option<&TestUser>,
    query: &str,
    variables: Value,
    files: Vec<(&str, &str, Vec<u8>, &str)>,
    preflight: bool,
) -> (u16, Value) {
    let mut map = serde_json::Map::new();
    let mut form = Form::new().text(
        "operations",
        json!({ "query": query, "variables": variables }).to_string(),
    );
    let mut parts = Vec::new();
    for (i, (path, name, bytes, mime)) in files.into_iter().enumerate() {
        map.insert(i.to_string(), json!([path]));
        parts.push((
            i.to_string(),
            Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .expect("mime"),
        ));
    }
    form = form.text("map", Value::Object(map).to_string());
    for (name, part) in parts {
        form = form.part(name, part);
    }
    let mut request = app.client.post(app.url("/graphql")).multipart(form);
    if let Some(who) = who {
        request = request.bearer_auth(&who.token);
    }
    if preflight {
        request = request.header("Apollo-Require-Preflight", "true");
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn upload(app: &TestApp, who: &TestUser, name: &str, mime: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = multipart(
        app,
        Some(who),
        UPLOAD,
        json!({ "file": null }),
        vec![("variables.file", name, bytes, mime)],
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn uploaded(app: &TestApp, who: &TestUser, name: &str, bytes: Vec<u8>) -> Value {
    let body = upload(app, who, name, "application/octet-stream", bytes).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["uploadFile"].clone()
}

/// GET a path (a `File.url`) as `who` or anonymously, with extra headers.
async fn get(
    app: &TestApp,
    path: &str,
    who: Option<&TestUser>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(who) = who {
        request = request.bearer_auth(&who.token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

/// `/files/<uuid>` without the token.
fn plain_path(url: &str) -> String {
    url.split('?').next().expect("path").to_owned()
}

fn file_uuid(url: &str) -> uuid::Uuid {
    plain_path(url)
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("uuid in url")
}

fn storage_dir(app: &TestApp) -> PathBuf {
    app.db.data_dir.path().join("files")
}

async fn storage_key(app: &TestApp, url: &str) -> Option<String> {
    file::Entity::find_by_id(file_uuid(url))
        .one(&app.conn)
        .await
        .expect("query")
        .map(|f| f.storage_key)
}

fn stored(app: &TestApp, key: &str) -> bool {
    storage_dir(app).join(key).exists()
}

#[tokio::test]
async fn upload_then_download_round_trip_with_sniffed_type_and_dimensions() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bytes = png(3, 2);
    // A PNG named .txt and declared text/plain is still a PNG.
    let body = upload(&app, &ann, "notes.txt", "text/plain", bytes.clone()).await;
    assert!(body["errors"].is_null(), "{body}");
    let file = &body["data"]["uploadFile"];
    assert_eq!(file["contentType"], "image/png");
    assert_eq!(file["sizeBytes"], bytes.len());
    assert_eq!(
        (file["width"].clone(), file["height"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(file["originalName"], "notes.txt");
    let checksum = hex::encode(Sha256::digest(&bytes));
    assert_eq!(file["checksum"], checksum.as_str());
    let url = file["url"].as_str().expect("url");
    assert!(
        url.starts_with("/files/") && url.contains("?token="),
        "{url}"
    );

    // The storage key is random, never the client's name.
    let key = storage_key(&app, url).await.expect("row");
    assert!(
        key.starts_with("uploads/") && !key.contains("notes"),
        "{key}"
    );
    assert!(stored(&app, &key));

    // The owner downloads with their bearer token.
    let response = get(&app, &plain_path(url), Some(&ann), &[]).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert_eq!(headers["etag"], format!("\"{checksum}\"").as_str());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=\"notes.txt\"")
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The signed URL works without any header.
    let response = get(&app, url, None, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Others, and anonymous callers without the token, see nothing.
    let bob = TestUser::sign_up(&app, "bob").await;
    assert_eq!(
        get(&app, &plain_path(url), Some(&bob), &[]).await.status(),
        404
    );
    assert_eq!(get(&app, &plain_path(url), None, &[]).await.status(), 404);
    let unknown = format!("/files/{}", uuid::Uuid::now_v7());
    assert_eq!(get(&app, &unknown, Some(&ann), &[]).await.status(), 404);

    // A tampered or expired token is refused.
    let (path, token) = url.split_once("?token=").unwrap();
    let (expires, signature) = token.split_once('.').unwrap();
    let later: i64 = expires.parse::<i64>().unwrap() + 300;
    let tampered = format!("{path}?token={later}.{signature}");
    assert_eq!(get(&app, &tampered, None, &[]).await.status(), 401);
    let expired = format!("{path}?token=1.{signature}");
    assert_eq!(get(&app, &expired, None, &[]).await.status(), 401);
    let other_file = format!("{unknown}?token={token}");
    assert_eq!(get(&app, &other_file, None, &[]).await.status(), 401);

    // Ranges.
    let response = get(&app, url, None, &[("Range", "bytes=2-5")]).await;
    assert_eq!(response.status(), 206);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes 2-5/{}", bytes.len()).as_str()
    );
    assert_eq!(response.headers()["content-length"], "4");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[2..6]);
    let response = get(&app, url, None, &[("Range", "bytes=-3")]).await;
    assert_eq!(response.status(), 206);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 3..]
    );
    let past_end = format!("bytes={}-", bytes.len());
    let response = get(&app, url, None, &[("Range", &past_end)]).await;
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );

    // Conditional requests.
    let etag = format!("\"{checksum}\"");
    let response = get(&app, url, None, &[("If-None-Match", &etag)]).await;
    assert_eq!(response.status(), 304);
    assert!(response.bytes().await.unwrap().is_empty());
    let response = get(&app, url, None, &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(response.status(), 200);

    // The file is a node its owner can fetch.
    let id = file["id"].as_str().unwrap();
    let query = "query($id: ID!) { node(id: $id) { ... on File { contentType } } }";
    let reply = ask(&app, Some(&ann), query, json!({ "id": id })).await;
    assert_eq!(reply["data"]["node"]["contentType"], "image/png", "{reply}");
    let reply = ask(&app, Some(&bob), query, json!({ "id": id })).await;
    assert!(reply["data"]["node"].is_null(), "{reply}");
}

#[tokio::test]
async fn plain_text_is_accepted_and_executables_and_unknown_blobs_are_refused() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let text = uploaded(&app, &ann, "a.bin", b"hello, world\n".to_vec()).await;
    assert_eq!(text["contentType"], "text/plain");
    assert!(text["width"].is_null());
    let response = get(&app, text["url"].as_str().unwrap(), None, &[]).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );

    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    let blob: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
    for (name, bytes) in [("photo.png", elf), ("x.jpg", blob)] {
        let body = upload(&app, &ann, name, "image/png", bytes).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "file");
    }
    assert_eq!(count_rows(&app.conn, "files").await, 1);
}

#[tokio::test]
async fn size_and_count_limits_and_the_csrf_guard() {
    let app = spawn_app_with(|config| {
        config.files.max_bytes = 1000;
        config.files.max_files = 2;
    })
    .await;
    let ann = TestUser::sign_up(&app, "ann").await;

    let (status, body) = multipart(
        &app,
        Some(&ann),
        UPLOAD,
        json!({ "file": null }),
        vec![(
            "variables.file",
            "big.png",
            png(1, 1).repeat(10),
            "image/png",
        )],
        true,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1000"),
        "{body}"
    );

    let three = "mutation($a: Upload!, $b: Upload!, $c: Upload!) {
        a: uploadFile(file: $a) { id } b: uploadFile(file: $b) { id } c: uploadFile(file: $c) { id } }";
    let files = ["variables.a", "variables.b", "variables.c"]
        .into_iter()
        .map(|path| (path, "f.png", png(1, 1), "image/png"))
        .collect();
    let (status, body) = multipart(
        &app,
        Some(&ann),
        three,
        json!({ "a": null, "b": null, "c": null }),
        files,
        true,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2"),
        "{body}"
    );

    // Without a preflight-forcing header, a multipart POST could come from
    // any site's HTML form.
    let (status, body) = multipart(
        &app,
        Some(&ann),
        UPLOAD,
        json!({ "file": null }),
        vec![("variables.file", "f.png", png(1, 1), "image/png")],
        false,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Apollo-Require-Preflight")
    );

    // Anonymous uploads are refused.
    let (_, body) = multipart(
        &app,
        None,
        UPLOAD,
        json!({ "file": null }),
        vec![("variables.file", "f.png", png(1, 1), "image/png")],
        true,
    )
    .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");

    assert_eq!(count_rows(&app.conn, "files").await, 0, "no rows written");
    assert!(
        std::fs::read_dir(storage_dir(&app).join("uploads"))
            .map_or(true, |mut d| d.next().is_none()),
        "no bytes stored"
    );
}

const CREATE_POST: &str = "mutation($body: String!, $c: ID, $files: [ID!]) {
    createPost(input: { body: $body, communityId: $c, attachmentIds: $files }) {
        id attachments { id contentType url } } }";

#[tokio::test]
async fn attachments_follow_the_posts_readability() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let reply = ask(
        &app,
        Some(&ann),
        "mutation { createCommunity(input: { slug: \"secret\", name: \"Secret\", visibility: PRIVATE }) { id } }",
        json!({}),
    )
    .await;
    let community = reply["data"]["createCommunity"]["id"]
        .as_str()
        .expect("community")
        .to_owned();

    let first = uploaded(&app, &ann, "a.png", png(4, 4)).await;
    let second = uploaded(&app, &ann, "b.pdf", b"%PDF-1.7\n%test\n".to_vec()).await;
    let ids = json!([second["id"], first["id"]]);
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "private", "c": community, "files": ids }),
    )
    .await;
    assert!(reply["errors"].is_null(), "{reply}");
    let attachments = &reply["data"]["createPost"]["attachments"];
    assert_eq!(
        attachments[0]["contentType"], "application/pdf",
        "in the order given"
    );
    assert_eq!(attachments[1]["contentType"], "image/png");
    let url = attachments[1]["url"].as_str().unwrap().to_owned();

    // Members (the author) read it; outsiders and anonymous callers get 404.
    assert_eq!(
        get(&app, &plain_path(&url), Some(&ann), &[]).await.status(),
        200
    );
    assert_eq!(
        get(&app, &plain_path(&url), Some(&bob), &[]).await.status(),
        404
    );
    assert_eq!(get(&app, &plain_path(&url), None, &[]).await.status(), 404);
    // The link handed to a member works from an <Image> without headers.
    assert_eq!(get(&app, &url, None, &[]).await.status(), 200);

    // A public post's attachments are readable by anyone signed in or not.
    let third = uploaded(&app, &ann, "c.png", png(1, 1)).await;
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "public", "files": [third["id"]] }),
    )
    .await;
    assert!(reply["errors"].is_null(), "{reply}");
    assert_eq!(
        get(
            &app,
            &plain_path(third["url"].as_str().unwrap()),
            Some(&bob),
            &[]
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        get(&app, &plain_path(third["url"].as_str().unwrap()), None, &[])
            .await
            .status(),
        200
    );

    // Attaching someone else's file, or one already attached, is refused.
    let bobs = uploaded(&app, &bob, "bob.png", png(1, 1)).await;
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "x", "files": [bobs["id"]] }),
    )
    .await;
    assert_eq!(code(&reply), "NOT_FOUND", "{reply}");
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "x", "files": [first["id"]] }),
    )
    .await;
    assert_eq!(code(&reply), "CONFLICT", "{reply}");
    let reply = ask(
        &app,
        Some(&bob),
        CREATE_POST,
        json!({ "body": "x", "files": [bobs["id"], bobs["id"]] }),
    )
    .await;
    assert_eq!(code(&reply), "BAD_USER_INPUT", "{reply}");
    let eleven: Vec<Value> = (0..11).map(|_| bobs["id"].clone()).collect();
    let reply = ask(
        &app,
        Some(&bob),
        CREATE_POST,
        json!({ "body": "x", "files": eleven }),
    )
    .await;
    assert_eq!(code(&reply), "BAD_USER_INPUT", "{reply}");
    assert_eq!(
        count_rows(&app.conn, "posts").await,
        2,
        "refused posts are not written"
    );

    // Attachments of a page of posts load in one batch.
    let reply = ask(
        &app,
        Some(&ann),
        "{ posts(first: 10) { edges { node { attachments { contentType width } } } } }",
        json!({}),
    )
    .await;
    assert!(reply["errors"].is_null(), "{reply}");
}

#[tokio::test]
async fn avatars_are_public_and_replacing_one_deletes_the_old() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let set_avatar =
        "mutation($file: Upload) { setAvatar(file: $file) { avatar { url width contentType } } }";
    let (status, body) = multipart(
        &app,
        Some(&ann),
        set_avatar,
        json!({ "file": null }),
        vec![("variables.file", "me.png", png(64, 48), "image/png")],
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let avatar = &body["data"]["setAvatar"]["avatar"];
    assert_eq!(avatar["width"], 64, "{body}");
    let url = avatar["url"].as_str().unwrap().to_owned();
    assert!(!url.contains("token"), "avatars need no token: {url}");
    let response = get(&app, &url, None, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    let old_key = storage_key(&app, &url).await.expect("row");

    // A text file is not an avatar.
    let (_, body) = multipart(
        &app,
        Some(&ann),
        set_avatar,
        json!({ "file": null }),
        vec![("variables.file", "me.txt", b"hi".to_vec(), "text/plain")],
        true,
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    let (_, body) = multipart(
        &app,
        Some(&ann),
        set_avatar,
        json!({ "file": null }),
        vec![("variables.file", "me2.png", png(10, 10), "image/png")],
        true,
    )
    .await;
    let new_url = body["data"]["setAvatar"]["avatar"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_url, url);
    assert_eq!(get(&app, &url, None, &[]).await.status(), 404);
    assert!(!stored(&app, &old_key), "old avatar bytes deleted");
    assert_eq!(count_rows(&app.conn, "files").await, 1);

    // Removing it.
    let reply = ask(
        &app,
        Some(&ann),
        "mutation { setAvatar(file: null) { avatar { url } } }",
        json!({}),
    )
    .await;
    assert!(reply["data"]["setAvatar"]["avatar"].is_null(), "{reply}");
    assert_eq!(count_rows(&app.conn, "files").await, 0);
}

#[tokio::test]
async fn deleting_a_post_or_an_account_deletes_the_bytes() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let file = uploaded(&app, &ann, "a.png", png(2, 2)).await;
    let key = storage_key(&app, file["url"].as_str().unwrap())
        .await
        .unwrap();
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "p", "files": [file["id"]] }),
    )
    .await;
    let post = reply["data"]["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(stored(&app, &key));
    let reply = ask(
        &app,
        Some(&ann),
        "mutation($id: ID!) { deletePost(id: $id) }",
        json!({ "id": post }),
    )
    .await;
    assert!(reply["errors"].is_null(), "{reply}");
    assert!(
        !stored(&app, &key),
        "attachment bytes deleted with the post"
    );
    assert_eq!(count_rows(&app.conn, "files").await, 0);
    assert_eq!(count_rows(&app.conn, "post_attachments").await, 0);

    let kept = uploaded(&app, &ann, "b.png", png(2, 2)).await;
    let key = storage_key(&app, kept["url"].as_str().unwrap())
        .await
        .unwrap();
    assert!(stored(&app, &key));
    let reply = ask(
        &app,
        Some(&ann),
        "mutation { deleteAccount(password: \"correct horse battery\") }",
        json!({}),
    )
    .await;
    assert!(reply["errors"].is_null(), "{reply}");
    assert!(!stored(&app, &key), "the account's bytes are deleted");
    assert_eq!(count_rows(&app.conn, "files").await, 0);
}

#[tokio::test]
async fn the_sweep_removes_unattached_uploads_and_stray_objects() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let loose = uploaded(&app, &ann, "loose.png", png(1, 1)).await;
    let used = uploaded(&app, &ann, "used.png", png(1, 1)).await;
    ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "p", "files": [used["id"]] }),
    )
    .await;
    let loose_key = storage_key(&app, loose["url"].as_str().unwrap())
        .await
        .unwrap();
    let used_key = storage_key(&app, used["url"].as_str().unwrap())
        .await
        .unwrap();

    let storage = Arc::new(ObjectStorage::local(&storage_dir(&app)).expect("storage"));
    storage
        .put("uploads/stray", "left behind".into())
        .await
        .expect("put");
    storage
        .put("backups/keep", "not an upload".into())
        .await
        .expect("put");
    let files =
        Files::new(app.app_db.clone(), storage.clone(), &test_config(&app.db)).expect("files");

    // Within the grace period nothing goes.
    let report = files
        .sweep(chrono::Utc::now() - Duration::from_secs(3600))
        .await
        .expect("sweep");
    assert_eq!((report.rows, report.objects), (0, 0));

    let report = files
        .sweep(chrono::Utc::now() + Duration::from_secs(60))
        .await
        .expect("sweep");
    assert_eq!((report.rows, report.objects), (1, 1), "{report:?}");
    assert!(!stored(&app, &loose_key));
    assert!(stored(&app, &used_key), "attached files stay");
    assert!(!stored(&app, "uploads/stray"));
    assert!(stored(&app, "backups/keep"), "other prefixes are not swept");
    assert_eq!(count_rows(&app.conn, "files").await, 1);
    assert_eq!(
        get(
            &app,
            &plain_path(loose["url"].as_str().unwrap()),
            Some(&ann),
            &[]
        )
        .await
        .status(),
        404
    );
}

/// Against a real S3-compatible server: `TEST_S3_ENDPOINT=http://127.0.0.1:PORT`
/// (e.g. moto from `scripts/moto.sh`). Skipped without it.
#[tokio::test]
async fn s3_round_trip() {
    let Some((endpoint, bucket)) = crate::helpers::test_s3_bucket().await else {
        eprintln!("s3_round_trip skipped: TEST_S3_ENDPOINT is not set");
        return;
    };
    let s3 = S3Config {
        bucket: bucket.clone(),
        endpoint: Some(endpoint.clone()),
        region: "us-east-1".to_owned(),
        access_key_id: Some(
            std::env::var("TEST_S3_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".to_owned()),
        ),
        secret_access_key: Some(
            std::env::var("TEST_S3_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".to_owned()),
        ),
        path_style: true,
    };
    let config_s3 = s3.clone();
    let app = spawn_app_with(move |config| config.files.s3 = Some(config_s3)).await;
    let storage = ObjectStorage::s3(&s3).expect("s3 storage");
    let ann = TestUser::sign_up(&app, "ann").await;
    let bytes = png(5, 7);
    let file = uploaded(&app, &ann, "s3.png", bytes.clone()).await;
    assert_eq!(file["width"], 5);
    let url = file["url"].as_str().unwrap();
    let response = get(&app, url, None, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let response = get(&app, url, None, &[("Range", "bytes=1-3")]).await;
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[1..4]);

    let key = storage_key(&app, url).await.unwrap();
    assert_eq!(
        storage.read(&key).await.expect("read").as_ref(),
        bytes.as_slice()
    );
    let listed = storage.list("uploads").await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");

    // Large files stream up in parts.
    let big = std::env::temp_dir().join(format!("hearth-s3-{bucket}"));
    let content: Vec<u8> = (0..(9 * 1024 * 1024u32)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &content).expect("write temp file");
    let written = storage
        .put_file("backups/big", &big)
        .await
        .expect("put_file");
    let _ = std::fs::remove_file(&big);
    assert_eq!(written, content.len() as u64);
    let middle: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(
        storage
            .get_range("backups/big", 8_000_000..8_000_010)
            .await
            .expect("range"),
    )
    .await
    .expect("bytes");
    assert_eq!(middle.concat(), content[8_000_000..8_000_010]);
    storage.delete("backups/big").await.expect("delete");

    // Deleting the post's owner deletes the object.
    let reply = ask(
        &app,
        Some(&ann),
        "mutation { deleteAccount(password: \"correct horse battery\") }",
        json!({}),
    )
    .await;
    assert!(reply["errors"].is_null(), "{reply}");
    assert!(storage.list("uploads").await.expect("list").is_empty());
}

#[test]
fn bad_file_settings_name_their_variable() {
    let config = |vars: &'static [(&'static str, &'static str)]| {
        api::config::Config::from_lookup(move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    for (vars, variable) in [
        (&[("UPLOAD_MAX_BYTES", "ten")][..], "UPLOAD_MAX_BYTES"),
        (&[("UPLOAD_MAX_FILES", "0")][..], "UPLOAD_MAX_FILES"),
        (
            &[("UPLOAD_ALLOWED_TYPES", "png")][..],
            "UPLOAD_ALLOWED_TYPES",
        ),
        (&[("PUBLIC_URL", "api.example.com")][..], "PUBLIC_URL"),
        (
            &[("S3_BUCKET", "b"), ("S3_ENDPOINT", "ftp://x")][..],
            "S3_ENDPOINT",
        ),
        (
            &[("S3_BUCKET", "b"), ("S3_ACCESS_KEY_ID", "k")][..],
            "S3_SECRET_ACCESS_KEY",
        ),
        (
            &[("S3_BUCKET", "b"), ("S3_PATH_STYLE", "maybe")][..],
            "S3_PATH_STYLE",
        ),
    ] {
        let err = config(vars).expect_err("refused");
        assert_eq!(err.variable, variable, "{vars:?}: {err}");
    }
    let ok =
        config(&[("S3_BUCKET", "b"), ("S3_ENDPOINT", "http://127.0.0.1:9000")]).expect("valid");
    let s3 = ok.files.s3.expect("s3");
    assert!(s3.path_style, "path style by default with an endpoint");
    assert_eq!(s3.region, "us-east-1");
}

/// A file mapped onto a variable that is not an Upload (a String, a list
/// of ids) is refused naming the variable, and nothing is stored.
#[tokio::test]
async fn files_mapped_onto_other_variables_are_refused() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let cases = [
        (
            "mutation($body: String!) { createPost(input: { body: $body }) { id body } }",
            json!({ "body": null }),
            "variables.body",
            "body",
        ),
        (
            "mutation($ids: [ID!]) { createPost(input: { body: \"hi\", attachmentIds: $ids }) { id } }",
            json!({ "ids": [null] }),
            "variables.ids.0",
            "ids",
        ),
    ];
    for (query, variables, path, variable) in cases {
        let (status, body) = multipart(
            &app,
            Some(&ann),
            query,
            variables,
            vec![(path, "f.png", png(1, 1), "image/png")],
            true,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], variable, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(variable),
            "{body}"
        );
    }
    assert_eq!(count_rows(&app.conn, "posts").await, 0);
    assert_eq!(count_rows(&app.conn, "files").await, 0);
}

/// An upload refused before its body is read (no CSRF header) still reads
/// the body, so a client that is still sending gets the coded answer, not
/// a broken pipe, and the connection serves the next request.
#[tokio::test]
async fn a_refused_upload_is_answered_on_a_connection_that_stays_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Reads one response (headers and a Content-Length body): status and body.
    async fn response(reader: &mut tokio::net::tcp::OwnedReadHalf) -> (u16, Value) {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = reader.read(&mut buf).await.expect("response read");
            assert!(n > 0, "connection closed before a response");
            bytes.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
        let status: u16 = head[9..12].parse().expect("status");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .expect("content-length")
            .trim()
            .parse()
            .expect("length");
        while bytes.len() < head_end + length {
            let n = reader.read(&mut buf).await.expect("body read");
            assert!(n > 0, "connection closed inside a response");
            bytes.extend_from_slice(&buf[..n]);
        }
        let body = serde_json::from_slice(&bytes[head_end..head_end + length]).expect("JSON");
        (status, body)
    }

    let app = spawn_app().await;
    let boundary = "hearthboundary";
    let file = vec![b'x'; 8 * 1024 * 1024];
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.file\"]}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.txt\"\r\n\r\n",
        json!({ "query": UPLOAD, "variables": { "file": null } })
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Accept: application/graphql-response+json\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        body.len()
    );
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(64 * 1024) {
            writer.write_all(chunk).await?;
        }
        Ok::<_, std::io::Error>(writer)
    });
    let (status, answer) = response(&mut reader).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(code(&answer), "BAD_REQUEST", "{answer}");
    let mut writer = sending
        .await
        .unwrap()
        .expect("the whole body was sent, no broken pipe");
    let next = json!({ "query": "{ __typename }" }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{next}",
        app.addr,
        next.len()
    );
    writer.write_all(request.as_bytes()).await.unwrap();
    let (status, answer) = response(&mut reader).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["__typename"], "Query");
}

/// An upload retried with its idempotency key answers the first file and
/// stores nothing twice; another file under the same key is `CONFLICT`.
#[tokio::test]
async fn a_retried_upload_with_its_key_is_stored_once() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let keyed = "mutation($file: Upload!, $k: String) { uploadFile(file: $file, idempotencyKey: $k) { id } }";
    let send = |bytes: Vec<u8>| {
        let (app, ann) = (&app, &ann);
        async move {
            multipart(
                app,
                Some(ann),
                keyed,
                json!({ "file": null, "k": "photo-1" }),
                vec![("variables.file", "a.png", bytes, "image/png")],
                true,
            )
            .await
            .1
        }
    };
    let first = send(png(4, 3)).await;
    let again = send(png(4, 3)).await;
    assert!(first["errors"].is_null(), "{first}");
    assert_eq!(
        first["data"]["uploadFile"]["id"],
        again["data"]["uploadFile"]["id"]
    );
    let rows = query_strings(
        &app.conn,
        "SELECT CAST(count(*) AS TEXT) AS n FROM files",
        &["n"],
    )
    .await;
    assert_eq!(rows, [["1"]]);
    let other = send(png(5, 5)).await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "CONFLICT",
        "{other}"
    );
}
