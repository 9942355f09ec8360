//! Daemon process groups in the Apache parent: their sockets, their
//! processes, respawning the ones that die and replacing them all on a
//! graceful restart. The decisions are `crate::supervision`'s; this file
//! gathers their facts from Apache and the system, and carries them out:
//! sockets, fork and exec, files, signals, and the registrations with APR.
//!
//! State that must outlive a configuration generation (listening sockets,
//! live processes) is kept in a static: the module is linked NODELETE, so it
//! survives Apache's restarts, unlike anything in the configuration pool. A
//! group's socket is kept across generations, so connections waiting in its
//! backlog during a restart are served by the new processes.

use std::ffi::{c_int, c_void};
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use apache_sys as sys;

use super::spawn::SpawnPlan;
use crate::daemon_plan;
use crate::daemon_spec::DaemonSpec;
use crate::ffi::app::AppSlot;
use crate::ffi::module::{dir_conf, rustgi_module, server_conf};
use crate::ffi::python;
use crate::ffi::{c_bytes, log};
use crate::health;
use crate::leftovers;
use crate::status::{self, GroupFile};
use crate::supervision::configured::{self, Defined, Server};
pub use crate::supervision::generation::GroupAddress;
use crate::supervision::generation::{
    self, CONFIG_MODE, GROUP_FILE_MODE, GroupPaths, GroupPlan, Listener, OldGroup, SOCKET_DIR_MODE,
    SOCKET_MODE, STATUS_DIR_MODE, daemon_args, daemon_env, started_message, status_dir_owner,
};
use crate::supervision::identity::{ApacheIds, SystemAccounts, identity};
use crate::supervision::restarts::{Death, GroupRecord, describe_exit};
use crate::wsgi_script::PythonPlace;

static ADDRESSES: RwLock<Vec<Arc<GroupAddress>>> = RwLock::new(Vec::new());

/// The group `name`, as an Apache child sees it.
pub fn address(name: &str) -> Option<Arc<GroupAddress>> {
    let addresses = ADDRESSES.read().unwrap_or_else(|e| e.into_inner());
    addresses.iter().find(|g| g.name == name).cloned()
}

struct Process {
    /// Registered with APR by address: the box never moves. Its file
    /// pointers are NULL: the process's standard streams are not APR files.
    proc_: sys::apr_proc_t,
    group: String,
    slot: u32,
    started: Instant,
}

struct Group {
    spec: DaemonSpec,
    paths: GroupPaths,
    /// The group file (processes and restarts, as the status page shows
    /// them) and the crash streak.
    record: GroupRecord,
    listener: OwnedFd,
    executable: String,
    // Boxed: APR keeps each process's address while it is registered.
    #[allow(clippy::vec_box)]
    processes: Vec<Box<Process>>,
}

impl Group {
    fn pids(&self) -> Vec<u32> {
        self.processes.iter().map(|p| p.proc_.pid as u32).collect()
    }
}

// SAFETY: a Process is only touched under the SUPERVISOR mutex, in the
// Apache parent; its apr_proc_t holds NULL file pointers only.
unsafe impl Send for Process {}

#[derive(Default)]
struct Supervisor {
    groups: Vec<Group>,
    /// Processes of earlier generations, finishing their requests.
    #[allow(clippy::vec_box)]
    retired: Vec<Box<Process>>,
    /// The configuration pool of the current generation (for registrations).
    pconf: usize,
    parent_pid: u32,
}

static SUPERVISOR: Mutex<Option<Supervisor>> = Mutex::new(None);

fn supervisor() -> MutexGuard<'static, Option<Supervisor>> {
    SUPERVISOR.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every server of the configuration, main server first, with its
/// configuration. Only for the hook that reads them: they live as long as
/// the configuration pool.
fn servers<'a>(main: *mut sys::server_rec) -> Vec<Server<'a, AppSlot>> {
    let mut list = Vec::new();
    let mut s = main;
    while !s.is_null() {
        // SAFETY: the server list is a live linked list of the configuration;
        // each server's configs were made by this module (create/merge), and
        // server_hostname is NULL or a C string.
        unsafe {
            list.push(Server {
                host: String::from_utf8_lossy(c_bytes((*s).server_hostname)).into_owned(),
                is_virtual: (*s).is_virtual != 0,
                conf: server_conf(s),
                dir: dir_conf((*s).lookup_defaults),
            });
            s = (*s).next;
        }
    }
    list
}

/// The groups the configuration defines, with the apps each may serve.
fn defined_groups(servers: &[Server<'_, AppSlot>]) -> Result<Vec<Defined>, String> {
    configured::defined_groups(servers, |alias, base, spec| {
        let (file, config) = python::app_for(alias, base, || PythonPlace::daemon(spec));
        (file.to_path_buf(), config)
    })
}

/// Who Apache runs as, and its `User` and `Group`.
fn apache_ids() -> ApacheIds {
    // SAFETY: geteuid has no preconditions. ap_unixd_config is filled by
    // mod_unixd while the configuration is read, before any hook that
    // calls this; reading plain fields.
    unsafe {
        ApacheIds {
            euid: libc::geteuid(),
            user: sys::ap_unixd_config.user_id,
            group: sys::ap_unixd_config.group_id,
        }
    }
}

/// Checks the groups at configuration time (`apache2 -t` included): names,
/// users and references. An error names the directive and the cause.
pub fn check(main: *mut sys::server_rec) -> Result<(), String> {
    let servers = servers(main);
    let defined = defined_groups(&servers)?;
    if let Some(first) = defined.first() {
        // post_config needs it; graceful must not find out too late.
        daemon_executable().map_err(|e| format!("RustgiDaemonProcess {}: {e}", first.spec.name))?;
    }
    configured::check(&servers, &defined, &apache_ids(), &SystemAccounts)
}

/// The `LogLevel` in effect for this module in server `s` (`LogLevel
/// rustgi:debug`, or the server's level), for the daemons' own log lines.
///
/// # Safety
/// `s` is a live server_rec.
unsafe fn module_log_level(s: *const sys::server_rec) -> u8 {
    // SAFETY: s is live; module_levels is NULL or an array with an entry for
    // every loaded module, -1 where the module has no level of its own.
    unsafe {
        let log = &(*s).log;
        let index = crate::ffi::module::module_index();
        let own = if log.module_levels.is_null() || index < 0 {
            -1
        } else {
            i32::from(*log.module_levels.add(index as usize))
        };
        let level = if own >= 0 { own } else { log.level };
        level.clamp(0, 15) as u8
    }
}

/// The directory this module was loaded from; the daemon executable lives
/// beside it.
pub(crate) fn module_dir() -> Option<PathBuf> {
    // SAFETY: an all-zero Dl_info is a valid out-parameter; dladdr fills it
    // from the address of this module's own record.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr((&raw const rustgi_module).cast(), &mut info) == 0
            || info.dli_fname.is_null()
        {
            return None;
        }
        let path = PathBuf::from(String::from_utf8_lossy(c_bytes(info.dli_fname)).into_owned());
        path.parent().map(Path::to_path_buf)
    }
}

fn daemon_executable() -> Result<PathBuf, String> {
    let dir = module_dir().ok_or("cannot tell where mod_rustgi was loaded from")?;
    let exe = dir.join("rustgi-daemon");
    match fs::metadata(&exe) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(exe),
        _ => Err(format!(
            "the daemon executable {} is missing: install rustgi-daemon beside mod_rustgi",
            exe.display()
        )),
    }
}

/// The socket directory: root-owned and not writable by others, so nobody
/// else can put a socket in a group's place.
fn socket_dir(pconf: *mut sys::apr_pool_t, main: *mut sys::server_rec) -> Result<PathBuf, String> {
    // SAFETY: main is the live main server with this module's config.
    let prefix = unsafe { server_conf(main) }.socket_prefix.clone();
    let dir = match prefix {
        Some(dir) => PathBuf::from(dir),
        None => {
            // SAFETY: pconf is live; the function returns a pool string.
            let p = unsafe { sys::ap_runtime_dir_relative(pconf, c"rustgi".as_ptr()) };
            // SAFETY: NULL or a NUL-terminated pool string.
            PathBuf::from(String::from_utf8_lossy(unsafe { c_bytes(p) }).into_owned())
        }
    };
    fs::create_dir_all(&dir).map_err(|e| format!("RustgiSocketPrefix {}: {e}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(SOCKET_DIR_MODE))
        .map_err(|e| format!("RustgiSocketPrefix {}: {e}", dir.display()))?;
    Ok(dir)
}

fn listen(path: &Path, backlog: u32, owner: Option<u32>) -> Result<OwnedFd, String> {
    let _ = fs::remove_file(path);
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot create socket {}: {e}", path.display()))?;
    // std listens with a fixed backlog; set the group's.
    // SAFETY: listen on a descriptor we own.
    if unsafe {
        libc::listen(
            listener.as_raw_fd(),
            backlog.min(c_int::MAX as u32) as c_int,
        )
    } != 0
    {
        return Err(format!(
            "listen on {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    if let Some(uid) = owner {
        chown(path, Some(uid), None).map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(OwnedFd::from(listener))
}

/// post_config: starts the groups of a new configuration generation and
/// retires the processes of the previous one.
pub fn start(pconf: *mut sys::apr_pool_t, main: *mut sys::server_rec) -> Result<(), String> {
    let defined = defined_groups(&servers(main))?;
    let mut guard = supervisor();
    if defined.is_empty() && guard.is_none() {
        return Ok(());
    }
    let state = guard.get_or_insert_with(Supervisor::default);
    state.pconf = pconf as usize;
    state.parent_pid = std::process::id();

    // Everything running belongs to the previous generation now.
    let mut old = Vec::new();
    let mut listeners = Vec::new();
    let mut records = Vec::new();
    for group in std::mem::take(&mut state.groups) {
        state.retired.extend(group.processes);
        old.push(OldGroup {
            name: group.spec.name,
            socket_exists: group.paths.socket.exists(),
            socket: group.paths.socket,
        });
        listeners.push(Some(group.listener));
        records.push(Some(group.record.file));
    }

    let mut addresses = Vec::new();
    let remove = if defined.is_empty() {
        generation::plan(Vec::new(), &old).remove
    } else {
        super::wakeup::install_in_parent();
        let executable = daemon_executable()?;
        let dir = socket_dir(pconf, main)?;
        let names: Vec<&str> = defined.iter().map(|d| d.spec.name.as_str()).collect();
        for gone in leftovers::sweep(&dir, &names) {
            log::server(
                main,
                sys::APLOG_INFO as i32,
                0,
                &format!(
                    "group {gone} is no longer configured: its files in {} removed",
                    dir.display()
                ),
            );
        }
        let paths = names.iter().map(|n| GroupPaths::new(&dir, n)).collect();
        let plan = generation::plan(paths, &old);
        let start = Start {
            main,
            executable: executable.to_string_lossy().into_owned(),
            apache: apache_ids(),
            // SAFETY: main is the live main server.
            script_reloading: unsafe { server_conf(main) }.script_reloading(),
            // SAFETY: main is the live main server.
            log_level: unsafe { module_log_level(main) },
        };
        for (d, g) in defined.into_iter().zip(plan.groups) {
            let reused = match g.listener {
                Listener::Reuse(i) => listeners[i].take(),
                Listener::Create => None,
            };
            let previous = g.history.and_then(|i| records[i].take());
            addresses.push(Arc::new(GroupAddress::new(&d, &g.paths)));
            state
                .groups
                .push(start_group(&start, d, g, reused, previous)?);
        }
        plan.remove
    };
    for path in &remove {
        let _ = fs::remove_file(path);
    }
    *ADDRESSES.write().unwrap_or_else(|e| e.into_inner()) = addresses;

    // Register every live process with this generation's pool, and ask the
    // retired ones to finish their requests and exit.
    for group in &mut state.groups {
        for process in &mut group.processes {
            register(process, pconf);
        }
    }
    for process in &mut state.retired {
        register(process, pconf);
        // SAFETY: signalling a child process of ours.
        unsafe { libc::kill(process.proc_.pid, libc::SIGUSR1) };
    }
    if !state.retired.is_empty() {
        log::server(
            main,
            sys::APLOG_INFO as i32,
            0,
            &format!(
                "retiring {} daemon process(es) of the previous configuration",
                state.retired.len()
            ),
        );
    }
    drop(guard);
    // SAFETY: registering a cleanup on the live configuration pool.
    unsafe {
        sys::apr_pool_cleanup_register(
            pconf,
            std::ptr::null(),
            Some(on_config_destroyed),
            Some(sys::apr_pool_cleanup_null),
        );
    }
    Ok(())
}

/// What every group of a generation starts with.
struct Start {
    main: *mut sys::server_rec,
    executable: String,
    apache: ApacheIds,
    script_reloading: bool,
    log_level: u8,
}

/// Starts group `d` as `g` plans it: its socket (the `reused` one, or a new
/// one), its files, then its processes.
fn start_group(
    start: &Start,
    d: Defined,
    g: GroupPlan,
    reused: Option<OwnedFd>,
    previous: Option<GroupFile>,
) -> Result<Group, String> {
    let name = d.spec.name.clone();
    let fail = |e: String| format!("RustgiDaemonProcess {name}: {e}");
    let listener = match reused {
        Some(listener) => listener,
        None => listen(
            &g.paths.socket,
            d.spec.listen_backlog,
            start.apache.socket_owner(),
        )
        .map_err(fail)?,
    };
    let identity = identity(&d.spec, &start.apache, &SystemAccounts).map_err(fail)?;
    let status_dir = &g.paths.status_dir;
    prepare_status_dir(status_dir, status_dir_owner(identity.as_ref()))
        .map_err(|e| fail(format!("{}: {e}", status_dir.display())))?;
    let text = daemon_plan::config_json(
        &d.spec,
        identity.as_ref(),
        &d.apps,
        &[start.apache.children_uid()],
        start.script_reloading,
        start.log_level,
        &status_dir.to_string_lossy(),
    );
    let config = &g.paths.config_file;
    fs::write(config, text)
        .and_then(|()| fs::set_permissions(config, fs::Permissions::from_mode(CONFIG_MODE)))
        .map_err(|e| fail(format!("writing {}: {e}", config.display())))?;
    let mut group = Group {
        record: GroupRecord::carried(&name, previous),
        spec: d.spec,
        paths: g.paths,
        listener,
        executable: start.executable.clone(),
        processes: Vec::new(),
    };
    for slot in 0..group.spec.processes {
        let process =
            spawn(&group, slot, 0).map_err(|e| fail(format!("cannot start a process: {e}")))?;
        group.processes.push(process);
    }
    group.record.file.processes = group.pids();
    write_group_file(&group.paths.group_file, &group.record.file);
    log::server(
        start.main,
        sys::APLOG_NOTICE as i32,
        0,
        &started_message(
            &group.spec,
            identity.as_ref(),
            &group.paths.socket,
            &group.record.file.processes,
        ),
    );
    Ok(group)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The directory the group's processes write their status files into:
/// theirs (`owner`), emptied of earlier processes'.
fn prepare_status_dir(dir: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for entry in fs::read_dir(dir)? {
        let _ = fs::remove_file(entry?.path());
    }
    if let Some((uid, gid)) = owner {
        chown(dir, Some(uid), Some(gid))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(STATUS_DIR_MODE))
}

/// Writes the group file (in the root-owned socket directory) atomically.
fn write_group_file(path: &Path, group: &GroupFile) {
    let Ok(text) = serde_json::to_vec(group) else {
        return;
    };
    let temp = path.with_extension("json.tmp");
    let written = fs::write(&temp, text)
        .and_then(|()| fs::set_permissions(&temp, fs::Permissions::from_mode(GROUP_FILE_MODE)))
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        log::server(
            std::ptr::null(),
            sys::APLOG_WARNING as i32,
            0,
            &format!("cannot write {}: {e}", path.display()),
        );
    }
}

/// Every group as the status page shows it (in an Apache child).
pub fn status_views() -> Vec<status::GroupView> {
    let addresses = ADDRESSES.read().unwrap_or_else(|e| e.into_inner()).clone();
    let now = now_unix();
    addresses
        .iter()
        .map(|g| {
            let file = status::read_group(&g.group_file, &g.name);
            status::group_view(
                &file,
                &g.status_dir,
                super::queue::listen_queue(&g.socket),
                now,
            )
        })
        .collect()
}

/// Each group with why it cannot take requests, if it cannot, for the
/// health check (in an Apache child), in configuration order.
pub fn health_problems() -> Vec<(String, Option<String>)> {
    let addresses = ADDRESSES.read().unwrap_or_else(|e| e.into_inner()).clone();
    let now = now_unix();
    addresses
        .iter()
        .map(|g| {
            let file = status::read_group(&g.group_file, &g.name);
            let processes = file
                .processes
                .iter()
                .map(|&pid| health::ProcessFacts {
                    pid,
                    file: status::read_process(&g.status_dir, pid),
                    alive: is_alive(pid),
                })
                .collect();
            let facts = health::GroupFacts {
                group: &file,
                processes,
                queue: super::queue::listen_queue(&g.socket),
                queue_timeout: g.timeouts.queue,
            };
            (g.name.clone(), health::group_problem(&facts, now))
        })
        .collect()
}

/// Whether process `pid` exists (a daemon runs as another user: EPERM
/// says it exists too).
fn is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process
    // exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn spawn(group: &Group, slot: u32, delay_ms: u64) -> std::io::Result<Box<Process>> {
    let plan = SpawnPlan::new(
        &group.executable,
        &group.spec.process_title(),
        &daemon_args(&group.paths.config_file, slot, delay_ms),
        &daemon_env(),
        group.listener.as_raw_fd(),
    )?;
    let pid = plan.spawn()?;
    Ok(Box::new(Process {
        proc_: sys::apr_proc_t {
            pid,
            in_: std::ptr::null_mut(),
            out: std::ptr::null_mut(),
            err: std::ptr::null_mut(),
        },
        group: group.spec.name.clone(),
        slot,
        started: Instant::now(),
    }))
}

fn register(process: &mut Box<Process>, pconf: *mut sys::apr_pool_t) {
    let data: *mut Process = &mut **process;
    // SAFETY: the box's address is stable until the process is removed after
    // its death, which unregisters it first; pconf is the live pool.
    unsafe {
        sys::apr_proc_other_child_register(
            &mut (*data).proc_,
            Some(maintenance),
            data.cast(),
            std::ptr::null_mut(),
            pconf,
        );
    }
}

/// APR calls this from the parent's main loop when a registered process
/// changes state.
unsafe extern "C" fn maintenance(reason: c_int, data: *mut c_void, status: c_int) {
    crate::ffi::guard("daemon maintenance", (), || {
        let reason = reason as u32;
        if reason != sys::APR_OC_REASON_DEATH && reason != sys::APR_OC_REASON_LOST {
            // UNREGISTER (the pool is cleared on restart) and the others need
            // nothing: start() registers the live processes again.
            return;
        }
        // SAFETY: data is the Process box registered above, still alive.
        unsafe { sys::apr_proc_other_child_unregister(data) };
        on_death(data.cast::<Process>(), status);
    });
}

fn on_death(dead: *const Process, status: c_int) {
    let mut guard = supervisor();
    let Some(state) = guard.as_mut() else { return };
    if let Some(i) = state.retired.iter().position(|p| std::ptr::eq(&**p, dead)) {
        let p = state.retired.swap_remove(i);
        log::server(
            std::ptr::null(),
            sys::APLOG_NOTICE as i32,
            0,
            &format!(
                "group {}: retired process {} {}",
                p.group,
                p.proc_.pid,
                describe_exit(status)
            ),
        );
        return;
    }
    let pconf = state.pconf as *mut sys::apr_pool_t;
    let found = state.groups.iter_mut().find_map(|g| {
        let i = g.processes.iter().position(|p| std::ptr::eq(&**p, dead))?;
        Some((g, i))
    });
    let Some((group, i)) = found else { return };
    let p = group.processes.swap_remove(i);
    let pid = p.proc_.pid as u32;
    let own_words = status::read_process(&group.paths.status_dir, pid);
    let _ = fs::remove_file(group.paths.status_dir.join(format!("{pid}.json")));
    let death = Death {
        pid,
        status,
        lived: p.started.elapsed(),
        own_words: own_words.as_ref(),
        now_unix: now_unix(),
        // SAFETY: ap_state_query has no preconditions.
        exiting: unsafe { sys::ap_state_query(sys::AP_SQ_MAIN_STATE as c_int) }
            == sys::AP_SQ_MS_EXITING as c_int,
    };
    let Some(respawn) = group.record.after_death(&death) else {
        return;
    };
    let level = if respawn.error {
        sys::APLOG_ERR
    } else {
        sys::APLOG_NOTICE
    };
    log::server(std::ptr::null(), level as i32, 0, &respawn.message);
    match spawn(group, p.slot, respawn.delay_ms) {
        Ok(mut process) => {
            register(&mut process, pconf);
            group.processes.push(process);
        }
        Err(e) => log::server(
            std::ptr::null(),
            sys::APLOG_ERR as i32,
            0,
            &format!("group {}: cannot start a process: {e}", group.spec.name),
        ),
    }
    group.record.file.processes = group.pids();
    write_group_file(&group.paths.group_file, &group.record.file);
}

/// In an Apache child: closes the copies of the groups' listening sockets the
/// fork gave it, and forgets the parent's process table. The children only
/// need the groups' addresses.
pub fn forget_in_child() {
    super::wakeup::remove_in_child();
    let mut guard = supervisor();
    if let Some(state) = guard.as_ref()
        && state.parent_pid != std::process::id()
    {
        *guard = None;
    }
}

/// The configuration pool is destroyed on restart and at exit. At exit the
/// daemons are told to stop (SIGTERM: they finish within shutdown-timeout);
/// on restart, start() replaces them.
unsafe extern "C" fn on_config_destroyed(_data: *mut c_void) -> sys::apr_status_t {
    crate::ffi::guard("daemon shutdown", (), || {
        // SAFETY: ap_state_query has no preconditions.
        let state = unsafe { sys::ap_state_query(sys::AP_SQ_MAIN_STATE as c_int) };
        if state != sys::AP_SQ_MS_EXITING as c_int {
            return;
        }
        let guard = supervisor();
        let Some(sup) = guard.as_ref() else { return };
        if sup.parent_pid != std::process::id() {
            return;
        }
        let all = sup
            .groups
            .iter()
            .flat_map(|g| g.processes.iter())
            .chain(sup.retired.iter());
        for process in all {
            // SAFETY: signalling a child process of ours.
            unsafe { libc::kill(process.proc_.pid, libc::SIGTERM) };
        }
        for group in &sup.groups {
            let _ = fs::remove_file(&group.paths.socket);
        }
    });
    0
}
