//! `rustgi setup-server`: write the server root only, and say how to start
//! it.

use std::fmt::Write as _;

use super::site::{AppSource, Site, SiteOptions};

/// Runs `rustgi setup-server`: prints the instructions on stdout.
pub fn setup_server(options: SiteOptions) -> Result<(), String> {
    let site = Site::prepare(options)?;
    site.write(false)?;
    print!("{}", instructions(&site));
    Ok(())
}

/// What `setup-server` prints about the server root it wrote.
pub fn instructions(site: &Site) -> String {
    let root = site.server_root.display();
    let ctl = site.apachectl_path();
    let ctl = ctl.display();
    let mut t = String::new();
    // Writing into a String cannot fail: the results are ignored.
    let _ = writeln!(t, "Server root:    {root}");
    let _ = writeln!(t, "Configuration:  {}", site.config_path().display());
    let mode = if site.options.embedded {
        "embedded in Apache's children".to_owned()
    } else {
        format!(
            "daemon group {}, {} x {} threads",
            site.group_name, site.options.processes, site.options.threads
        )
    };
    let _ = writeln!(t, "App:            {} ({mode})", site.app.display());
    let _ = writeln!(t, "URL:            {}", site.url());
    if let Some(url) = site.https_url() {
        let _ = writeln!(t, "HTTPS URL:      {url}");
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "Start it:       {ctl} start");
    let _ = writeln!(t, "Stop it:        {ctl} stop");
    let _ = writeln!(t, "Restart it:     {ctl} graceful   (or restart)");
    let _ = writeln!(t, "Check it:       {ctl} configtest");
    let _ = writeln!(
        t,
        "In a terminal:  {ctl} foreground   (Ctrl-C stops; logs still go to the files)"
    );
    let _ = writeln!(t, "Logs:           {root}/error_log, {root}/access_log");
    if let AppSource::Crate { dir, .. } = &site.source {
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "The server runs a copy of the library built from {}: after rebuilding, \
             run setup-server again to replace it{}.",
            dir.display(),
            if site.options.reload_on_changes && !site.options.embedded {
                " (the daemon processes then reload it)"
            } else {
                ", then run apachectl graceful"
            }
        );
    }
    t
}
