//! The local-AWS harness itself: start, answer, reset, stop.

use std::net::TcpStream;
use std::time::Duration;

use rig_tests::LocalAws;

#[test]
fn starts_answers_resets_and_stops() {
    let aws = LocalAws::start().expect("local AWS starts");
    let port = aws.port();
    assert_eq!(aws.endpoint(), format!("http://127.0.0.1:{port}"));
    let env = aws.env();
    assert!(env.contains(&("AWS_ENDPOINT_URL".to_string(), aws.endpoint())));
    assert!(env.contains(&("AWS_REGION".to_string(), "us-east-1".to_string())));

    let (status, body) = aws.request("GET", "/moto-api/").expect("raw HTTP request");
    assert_eq!(status, 200, "GET /moto-api/ answered {status}: {body}");
    let (status, _) = aws
        .request("GET", "/moto-api/data.json")
        .expect("raw HTTP request");
    assert_eq!(status, 200);

    aws.reset().expect("reset");
    aws.reset().expect("reset is repeatable");

    drop(aws);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "port {port} still accepts connections after drop"
    );
}

#[test]
fn two_servers_run_side_by_side() {
    let a = LocalAws::start().expect("first server");
    let b = LocalAws::start().expect("second server");
    assert_ne!(a.port(), b.port());
    assert_eq!(a.request("GET", "/moto-api/").unwrap().0, 200);
    assert_eq!(b.request("GET", "/moto-api/").unwrap().0, 200);
}
