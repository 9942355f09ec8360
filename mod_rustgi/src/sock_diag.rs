//! The queue of a listening UNIX socket — the connections waiting in its
//! backlog — from the kernel's socket diagnostics (netlink `sock_diag`, what
//! `ss -xl` shows). Pure encoding and decoding of the messages; the socket
//! calls are in the FFI layer. Netlink speaks the host's byte order.

const NLMSG_HDR_LEN: usize = 16;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const AF_UNIX: u8 = 1;
const TCP_LISTEN: u32 = 10;
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_MSG_LEN: usize = 16;

/// The dump request for every listening UNIX socket, with names and queues.
pub fn request(seq: u32) -> Vec<u8> {
    let mut msg = Vec::with_capacity(40);
    msg.extend_from_slice(&40u32.to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    // struct unix_diag_req
    msg.extend_from_slice(&[AF_UNIX, 0, 0, 0]);
    msg.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN).to_ne_bytes());
    msg.extend_from_slice(&[0xff; 8]);
    msg
}

/// What one received buffer says.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The dump goes on: more buffers follow.
    More,
    /// The dump is over.
    Done,
    /// The kernel refused the request.
    Error,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Scans one buffer of the dump for the socket bound to `path`; sets `found`
/// to its queue length when it is there.
pub fn scan(buf: &[u8], path: &[u8], found: &mut Option<u32>) -> Reply {
    let mut at = 0;
    while at + NLMSG_HDR_LEN <= buf.len() {
        let (Some(len), Some(kind)) = (u32_at(buf, at), u16_at(buf, at + 4)) else {
            return Reply::Error;
        };
        let len = len as usize;
        if len < NLMSG_HDR_LEN || at + len > buf.len() {
            return Reply::Error;
        }
        match kind {
            NLMSG_DONE => return Reply::Done,
            NLMSG_ERROR => return Reply::Error,
            SOCK_DIAG_BY_FAMILY => {
                let body = &buf[at + NLMSG_HDR_LEN..at + len];
                if let Some(queue) = queue_of(body, path) {
                    *found = Some(queue);
                }
            }
            _ => {}
        }
        at += (len + 3) & !3;
    }
    Reply::More
}

/// The queue length in one unix_diag_msg, when its name is `path`.
fn queue_of(body: &[u8], path: &[u8]) -> Option<u32> {
    let mut at = UNIX_DIAG_MSG_LEN;
    let (mut name, mut queue) = (None, None);
    while at + 4 <= body.len() {
        let len = u16_at(body, at)? as usize;
        let kind = u16_at(body, at + 2)?;
        if len < 4 || at + len > body.len() {
            return None;
        }
        let data = &body[at + 4..at + len];
        match kind {
            UNIX_DIAG_NAME => name = Some(data),
            UNIX_DIAG_RQLEN => queue = u32_at(data, 0),
            _ => {}
        }
        at += (len + 3) & !3;
    }
    let name = name?;
    let name = name.strip_suffix(&[0]).unwrap_or(name);
    (name == path).then_some(queue?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(data);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn message(name: &[u8], rqueue: u32) -> Vec<u8> {
        let mut body = vec![AF_UNIX, 1, TCP_LISTEN as u8, 0];
        body.extend_from_slice(&[0; 12]);
        body.extend(attr(UNIX_DIAG_NAME, name));
        let mut rq = rqueue.to_ne_bytes().to_vec();
        rq.extend_from_slice(&100u32.to_ne_bytes());
        body.extend(attr(UNIX_DIAG_RQLEN, &rq));
        let mut msg = Vec::new();
        msg.extend_from_slice(&((NLMSG_HDR_LEN + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend(body);
        msg
    }

    fn done() -> Vec<u8> {
        let mut msg = (NLMSG_HDR_LEN as u32).to_ne_bytes().to_vec();
        msg.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg
    }

    #[test]
    fn finds_the_queue_of_the_named_socket() {
        let mut buf = message(b"/run/other.sock", 9);
        buf.extend(message(b"/run/shop.sock", 3));
        let mut found = None;
        assert_eq!(scan(&buf, b"/run/shop.sock", &mut found), Reply::More);
        assert_eq!(found, Some(3));
        assert_eq!(scan(&done(), b"/run/shop.sock", &mut found), Reply::Done);
    }

    #[test]
    fn request_is_well_formed() {
        let r = request(7);
        assert_eq!(r.len(), 40);
        assert_eq!(u32_at(&r, 0), Some(40));
        assert_eq!(u16_at(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(u32_at(&r, 8), Some(7));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut found = None;
        for len in 0..64u32 {
            let mut buf = len.to_ne_bytes().to_vec();
            buf.extend_from_slice(&[0xff; 30]);
            let _ = scan(&buf, b"/x", &mut found);
        }
        assert_eq!(found, None);
        let mut truncated = message(b"/x", 1);
        truncated.truncate(30);
        assert_eq!(scan(&truncated, b"/x", &mut found), Reply::Error);
    }
}
