//! Loading an app's shared library in the process that runs it, and calling
//! its init, handle and shutdown through the ABI.

use std::ffi::{c_char, c_void};
use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW, Symbol};
use rustgi_abi::{self as abi, RustgiApp, RustgiHostApi, RustgiInit, RustgiRequest};

use rustgi_contract::pairs::Pairs;

/// A loaded, initialised app.
pub struct AppInstance {
    /// Never unloaded: a Rust library with thread-local destructors cannot be
    /// unmapped safely, and the process ends soon after shutdown anyway.
    _library: ManuallyDrop<Library>,
    handle: abi::HandleFn,
    shutdown: abi::ShutdownFn,
    status: Option<abi::StatusFn>,
    instance: *mut c_void,
    shut_down: AtomicBool,
}

// SAFETY: the ABI requires an app's handle to be callable from several
// threads at once on the same instance, and shutdown runs once (guarded by
// shut_down) after the requests are over; the pointers are not otherwise
// dereferenced by the host.
unsafe impl Send for AppInstance {}
// SAFETY: as above.
unsafe impl Sync for AppInstance {}

impl AppInstance {
    /// Loads the app at `file` and calls its init with `config`, the host's
    /// services `api` and the context `ctx` the app passes back to them.
    pub fn load(
        file: &Path,
        config: &Pairs,
        api: &'static RustgiHostApi,
        ctx: *mut c_void,
    ) -> Result<AppInstance, String> {
        // SAFETY: loading a library runs its constructors; the file was
        // checked at configuration time to be a rustgi app for this machine,
        // and it is the operator's choice to run it in this process.
        let library = unsafe { Library::open(Some(file), RTLD_NOW | RTLD_LOCAL) }
            .map_err(|e| format!("cannot load it: {e}"))?;
        // SAFETY: rustgi_abi_version is declared by the ABI as a const u32;
        // the symbol's address is valid while the library stays loaded.
        let version = unsafe {
            let symbol: Symbol<*const u32> = library
                .get(abi::ABI_VERSION_SYMBOL.to_bytes_with_nul())
                .map_err(|e| format!("it does not export rustgi_abi_version: {e}"))?;
            (*symbol).read_unaligned()
        };
        if version != abi::ABI_VERSION {
            return Err(format!(
                "it was built for ABI version {version}, and this mod_rustgi speaks version {}",
                abi::ABI_VERSION
            ));
        }
        // SAFETY: rustgi_app_entry has this signature by the ABI.
        let descriptor = unsafe {
            let entry: Symbol<unsafe extern "C" fn() -> *const RustgiApp> = library
                .get(abi::APP_ENTRY_SYMBOL.to_bytes_with_nul())
                .map_err(|e| format!("it does not export rustgi_app_entry: {e}"))?;
            entry()
        };
        let descriptor = read_descriptor(descriptor)?;
        let (Some(init), Some(handle), Some(shutdown)) =
            (descriptor.init, descriptor.handle, descriptor.shutdown)
        else {
            return Err("its descriptor lacks init, handle or shutdown".to_owned());
        };

        let pairs = config.abi_pairs();
        let mut error = [0 as c_char; 1024];
        let init_args = RustgiInit {
            struct_size: size_of::<RustgiInit>() as u32,
            abi_version: abi::ABI_VERSION,
            config: pairs.as_ptr(),
            config_len: pairs.len(),
            api,
            ctx,
            error: error.as_mut_ptr(),
            error_cap: error.len(),
        };
        let mut instance = std::ptr::null_mut();
        // SAFETY: init_args and everything it points to live across the call;
        // instance is a valid out-pointer.
        let rc = unsafe { init(&init_args, &mut instance) };
        if rc != abi::OK {
            error[error.len() - 1] = 0;
            // SAFETY: the buffer is NUL-terminated (just ensured).
            let message = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
            let message = message.to_string_lossy();
            return Err(if message.is_empty() {
                "its init failed without a message".to_owned()
            } else {
                format!("its init failed: {message}")
            });
        }
        Ok(AppInstance {
            _library: ManuallyDrop::new(library),
            handle,
            shutdown,
            status: descriptor.status,
            instance,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Calls the app's handle for one request.
    pub fn handle(&self, request: &RustgiRequest) -> i32 {
        // SAFETY: the instance came from this app's init; the request and
        // what it points to live across the call (the caller's locals).
        unsafe { (self.handle)(self.instance, request) }
    }

    /// What the instance says about itself (its `status` entry, a JSON
    /// object), when the app has one.
    pub fn status(&self) -> Option<String> {
        let status = self.status?;
        if self.shut_down.load(Ordering::SeqCst) {
            return None;
        }
        let mut buf = vec![0u8; 4096];
        for _ in 0..2 {
            // SAFETY: buf is writable for its length; the instance came from
            // this app's init and is not shut down (status may run beside
            // requests, by the ABI).
            let len = unsafe { status(self.instance, buf.as_mut_ptr().cast(), buf.len()) };
            if len < buf.len() {
                buf.truncate(len);
                return String::from_utf8(buf).ok();
            }
            // Too small: once more, large enough (within reason).
            buf = vec![0u8; len.min(1 << 20) + 1];
        }
        None
    }

    /// Calls the app's shutdown, once.
    pub fn shutdown(&self) {
        if !self.shut_down.swap(true, Ordering::SeqCst) {
            // SAFETY: called once, when the process stops serving requests.
            unsafe { (self.shutdown)(self.instance) }
        }
    }
}

/// Reads an app's descriptor, checking its size and version first.
fn read_descriptor(descriptor: *const RustgiApp) -> Result<RustgiApp, String> {
    if descriptor.is_null() {
        return Err("its rustgi_app_entry returned NULL".to_owned());
    }
    // SAFETY: a non-NULL descriptor points to at least the two u32 header
    // fields that every revision of the struct starts with.
    let (size, version) = unsafe {
        let header = descriptor.cast::<u32>();
        (header.read_unaligned(), header.add(1).read_unaligned())
    };
    if version != abi::ABI_VERSION {
        return Err(format!("its descriptor is for ABI version {version}"));
    }
    if (size as usize) < abi::APP_SIZE_V1_0 {
        return Err(format!(
            "its descriptor is {size} bytes, smaller than version 1's"
        ));
    }
    // Fields appended later than the app stay NULL (None).
    let mut read = std::mem::MaybeUninit::<RustgiApp>::zeroed();
    let len = (size as usize).min(size_of::<RustgiApp>());
    // SAFETY: the app's struct holds `size` bytes, of which the first `len`
    // are copied over a zeroed RustgiApp; every field is an integer, a
    // pointer or an Option of a function pointer, for which all-zero bytes
    // (NULL, None) and the app's bytes are valid values.
    unsafe {
        std::ptr::copy_nonoverlapping(descriptor.cast::<u8>(), read.as_mut_ptr().cast::<u8>(), len);
        Ok(read.assume_init())
    }
}
