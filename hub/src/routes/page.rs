//! `GET /`: a small page to paste a token, pick a channel and chat (plain HTML and JavaScript).

use actix_web::http::Method;
use actix_web::{web, HttpResponse};

use crate::routes::resource;

const INDEX: &str = include_str!("../../static/index.html");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/", [(Method::GET, web::to(index))]));
}

async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(INDEX)
}
