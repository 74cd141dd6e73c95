//! HTTP routes. Each module exposes `configure(&mut ServiceConfig)` and registers each of its
//! paths once, through [`resource`], so a method the path does not serve is answered with the
//! JSON `405` and its `Allow` header (`crate::error`). `ServiceConfig::route` would not do: it
//! makes one resource per call with the method as the resource's guard, so a wrong method falls
//! through to the unknown-route `404`. A path must not be registered twice either: the first
//! resource would answer every method the second serves with `405`.

pub mod analytics;
pub mod auth;
pub mod calendar;
pub mod callbacks;
pub mod deliveries;
pub mod health;
pub mod journal;
pub mod notifications;
pub mod page;
pub mod revoke;
pub mod roster;
pub mod time_range;
pub mod ws;

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{Resource, Route};

/// Every route of the hub.
pub fn configure(cfg: &mut ServiceConfig) {
    ws::configure(cfg);
    roster::configure(cfg);
    calendar::configure(cfg);
    callbacks::configure(cfg);
    deliveries::configure(cfg);
    revoke::configure(cfg);
    notifications::configure(cfg);
    health::configure(cfg);
    journal::configure(cfg);
    analytics::configure(cfg);
    page::configure(cfg);
}

/// `path` serving each `(method, handler)` of `routes` (built with `web::to`); any other method
/// is a `405` whose `Allow` lists exactly these methods.
pub fn resource(path: &str, routes: impl IntoIterator<Item = (Method, Route)>) -> Resource {
    let mut resource = web::resource(path);
    let mut allow = Vec::new();
    for (method, route) in routes {
        resource = resource.route(route.method(method.clone()));
        allow.push(method);
    }
    resource.default_service(crate::error::method_not_allowed(allow))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use actix_web::test::{self, TestRequest};
    use actix_web::{App, HttpResponse};
    use serde_json::Value;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Count {
        #[allow(dead_code)]
        n: u32,
    }

    async fn ok(_: web::Query<Count>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    /// The status, `Allow` header and error code of one request to a small app with the
    /// REST error configuration and one resource.
    async fn answer(method: Method, uri: &str) -> (u16, Option<String>, Value) {
        let app = test::init_service(
            App::new()
                .configure(|cfg| crate::error::configure(cfg, 1024))
                .service(resource(
                    "/x",
                    [(Method::GET, web::to(ok)), (Method::PUT, web::to(ok))],
                )),
        )
        .await;
        let res = test::call_service(
            &app,
            TestRequest::default().method(method).uri(uri).to_request(),
        )
        .await;
        let status = res.status().as_u16();
        let allow = res
            .headers()
            .get(header::ALLOW)
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body: Value = test::read_body_json(res).await;
        (status, allow, body["error"]["code"].clone())
    }

    #[actix_web::test]
    async fn a_method_the_resource_does_not_serve_is_a_json_405_listing_the_ones_it_does() {
        let (status, allow, code) = answer(Method::PATCH, "/x?n=1").await;
        assert_eq!((status, allow.as_deref()), (405, Some("GET, PUT")));
        assert_eq!(code, "method_not_allowed");
    }

    #[actix_web::test]
    async fn an_unknown_path_and_a_bad_query_are_json_errors() {
        let (status, _, code) = answer(Method::GET, "/y").await;
        assert_eq!((status, code.as_str()), (404, Some("not_found")));
        let (status, _, code) = answer(Method::GET, "/x?n=minus-one").await;
        assert_eq!((status, code.as_str()), (400, Some("bad_request")));
    }
}
