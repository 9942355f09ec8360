//! A bucket brigade of a request: the request body as it comes, and the
//! response on its way down the output filters.

use std::ffi::{c_char, c_int};
use std::io::IoSlice;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::ptr::NonNull;

use apache_sys as sys;

use super::Request;

/// An `apr_bucket_brigade` in a request's pool, for the thread that handles
/// the request. APR reports failures as status codes, which the methods
/// return as they are (`0` is success).
pub struct Brigade<'r> {
    bb: NonNull<sys::apr_bucket_brigade>,
    request: &'r Request,
}

/// What a read of the request body gave.
pub enum Input {
    /// Buckets in the brigade (perhaps none, perhaps an EOS).
    Read,
    /// A non-blocking read found nothing yet.
    Later,
    /// The read failed with this APR status.
    Failed(sys::apr_status_t),
}

impl<'r> Brigade<'r> {
    /// An empty brigade in the request's pool.
    pub fn new(request: &'r Request) -> Brigade<'r> {
        // SAFETY: the request, its pool and its connection's bucket
        // allocator are live; the brigade lives as long as the pool.
        let bb = unsafe {
            let r = request.as_ptr();
            sys::apr_brigade_create((*r).pool, (*(*r).connection).bucket_alloc)
        };
        Brigade {
            bb: NonNull::new(bb).expect("apr_brigade_create never returns NULL"),
            request,
        }
    }

    fn as_ptr(&self) -> *mut sys::apr_bucket_brigade {
        self.bb.as_ptr()
    }

    /// Reads up to `max` bytes of the request body into this brigade.
    pub fn read_input(&mut self, max: usize, block: bool) -> Input {
        let mode = if block {
            sys::apr_read_type_e_APR_BLOCK_READ
        } else {
            sys::apr_read_type_e_APR_NONBLOCK_READ
        };
        let max = max.min(i32::MAX as usize) as sys::apr_off_t;
        // SAFETY: the request and this brigade are live and this thread's.
        let rv = unsafe {
            sys::ap_get_brigade(
                (*self.request.as_ptr()).input_filters,
                self.as_ptr(),
                sys::ap_input_mode_t_AP_MODE_READBYTES,
                mode,
                max,
            )
        };
        match rv {
            0 => Input::Read,
            libc::EAGAIN if !block => Input::Later,
            rv => Input::Failed(rv),
        }
    }

    /// Whether the brigade holds the end of the stream.
    pub fn has_eos(&self) -> bool {
        // SAFETY: a live brigade; the shim only walks its ring.
        unsafe { sys::rustgi_shim_brigade_has_eos(self.as_ptr()) != 0 }
    }

    /// Copies the brigade's bytes into `buf` (as many as fit); how many.
    pub fn flatten_into(&mut self, buf: &mut [u8]) -> usize {
        let mut len: sys::apr_size_t = buf.len();
        // SAFETY: a live brigade; flatten copies at most buf.len() bytes.
        unsafe { sys::apr_brigade_flatten(self.as_ptr(), buf.as_mut_ptr().cast(), &mut len) };
        len
    }

    /// The number of bytes in the brigade, reading buckets of unknown
    /// length.
    pub fn length(&mut self) -> Result<usize, sys::apr_status_t> {
        let mut len: sys::apr_off_t = 0;
        // SAFETY: a live brigade; len is valid for writing.
        let rv = unsafe { sys::apr_brigade_length(self.as_ptr(), 1, &mut len) };
        if rv == 0 {
            Ok(usize::try_from(len).unwrap_or(0))
        } else {
            Err(rv)
        }
    }

    /// Moves the buckets of `from` to the end of this brigade, set aside in
    /// the request's pool so that they outlive the next read.
    pub fn keep(&mut self, from: &mut Brigade<'_>) -> sys::apr_status_t {
        // SAFETY: both brigades are live brigades of this request.
        unsafe {
            sys::rustgi_shim_brigade_keep(
                self.as_ptr(),
                from.as_ptr(),
                (*self.request.as_ptr()).pool,
            )
        }
    }

    /// Hands `use_slices` the brigade's bytes as slices of its buckets,
    /// without copying; gives `use_slices` back, uncalled, when they are in
    /// more than `MAX` pieces or a bucket cannot be read.
    pub fn with_slices<const MAX: usize, T, F: FnOnce(&[IoSlice<'_>]) -> T>(
        &self,
        use_slices: F,
    ) -> Result<T, F> {
        let mut ptrs = [std::ptr::null::<c_char>(); MAX];
        let mut lens: [sys::apr_size_t; MAX] = [0; MAX];
        // SAFETY: a live brigade; the arrays have room for MAX entries, as
        // the shim is told.
        let count = unsafe {
            sys::rustgi_shim_brigade_slices(
                self.as_ptr(),
                ptrs.as_mut_ptr(),
                lens.as_mut_ptr(),
                c_int::try_from(MAX).unwrap_or(c_int::MAX),
            )
        };
        let Ok(count) = usize::try_from(count) else {
            return Err(use_slices);
        };
        let slices: Vec<IoSlice<'_>> = ptrs[..count]
            .iter()
            .zip(&lens[..count])
            .map(|(&ptr, &len)| {
                // SAFETY: the shim read these (pointer, length) pairs from the
                // brigade's buckets; they stay valid until the brigade
                // changes, which the shared borrow of `self` prevents while
                // the slices live (every change takes `&mut self`).
                IoSlice::new(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
            })
            .collect();
        Ok(use_slices(&slices))
    }

    /// Writes `bytes` into the brigade, which passes itself down the
    /// output filters when it holds enough.
    pub fn write(&mut self, bytes: &[u8]) -> sys::apr_status_t {
        // SAFETY: a live brigade and request; apr_brigade_write copies or
        // passes the bytes before returning, and flushes through
        // ap_filter_flush to the request's output filters.
        unsafe {
            sys::apr_brigade_write(
                self.as_ptr(),
                Some(sys::ap_filter_flush),
                (*self.request.as_ptr()).output_filters.cast(),
                bytes.as_ptr().cast::<c_char>(),
                bytes.len(),
            )
        }
    }

    /// Appends `len` bytes of `file` from `offset` as file buckets, which
    /// own the descriptor until the request's pool goes.
    pub fn append_file(
        &mut self,
        file: OwnedFd,
        offset: sys::apr_off_t,
        len: sys::apr_off_t,
    ) -> sys::apr_status_t {
        // SAFETY: a live brigade and request; the descriptor is open and
        // handed over (the pool closes it, also on failure).
        unsafe {
            sys::rustgi_shim_brigade_append_file(
                self.as_ptr(),
                file.into_raw_fd(),
                offset,
                len,
                (*self.request.as_ptr()).pool,
            )
        }
    }

    pub fn append_flush(&mut self) {
        // SAFETY: a live brigade.
        unsafe { sys::rustgi_shim_brigade_append_flush(self.as_ptr()) }
    }

    pub fn append_eos(&mut self) {
        // SAFETY: a live brigade.
        unsafe { sys::rustgi_shim_brigade_append_eos(self.as_ptr()) }
    }

    /// An error bucket: the output filters end the response as broken (no
    /// last chunk), as mod_proxy does for a backend that failed.
    pub fn append_error(&mut self, status: c_int) {
        // SAFETY: a live brigade; the bucket is made in the request's pool.
        unsafe {
            sys::rustgi_shim_brigade_append_error(
                self.as_ptr(),
                status,
                (*self.request.as_ptr()).pool,
            )
        }
    }

    /// Passes the brigade down the request's output filters, then empties
    /// it for the next use.
    pub fn pass(&mut self) -> sys::apr_status_t {
        // SAFETY: a live brigade and request, on the handling thread.
        unsafe {
            let rv = sys::ap_pass_brigade((*self.request.as_ptr()).output_filters, self.as_ptr());
            sys::apr_brigade_cleanup(self.as_ptr().cast());
            rv
        }
    }

    /// Empties the brigade.
    pub fn cleanup(&mut self) {
        // SAFETY: a live brigade.
        unsafe { sys::apr_brigade_cleanup(self.as_ptr().cast()) };
    }
}
