//! `bench-hyper [PORT] [THREADS]`: the native server of the benchmark's
//! mod_proxy case. Serves `Hello, World!` (text/plain, the same bytes as the
//! hello apps) for every request on 127.0.0.1:PORT (0, the default, picks a
//! free port) with hyper on a multi-threaded tokio runtime of THREADS worker
//! threads (default: one per CPU), keeping connections alive.
//!
//! Prints `listening on 127.0.0.1:PORT` on stdout once it accepts
//! connections; runs until it is killed.

use std::convert::Infallible;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8] = b"Hello, World!";

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY)));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        // Small answers go out at once, as Apache sends them.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // A client that goes away mid-request is no error of ours.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next().map(|a| a.parse()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("bench-hyper: bad port: {e}");
            return ExitCode::from(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_io();
    match args.next().map(|a| a.parse::<usize>()) {
        None => {}
        Some(Ok(n)) if n > 0 => {
            rt.worker_threads(n);
        }
        Some(_) => {
            eprintln!("bench-hyper: THREADS must be a positive number");
            return ExitCode::from(2);
        }
    }
    let result = rt.build().and_then(|rt| rt.block_on(serve(port)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-hyper: {e}");
            ExitCode::FAILURE
        }
    }
}
