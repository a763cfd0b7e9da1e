//! `inzicht serve`, `inzicht user`, `inzicht audit` and `inzicht report`: wiring of
//! `inzicht-web` to the command line.

use crate::cli::Failure;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ServeArgs {
    /// Store directory.
    #[arg(long)]
    pub store: PathBuf,
    /// The key file (default: the one recorded with the current snapshot).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Address to listen on; only localhost unless told otherwise (put a TLS proxy in front
    /// before serving a network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
}

#[derive(Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Add an account (or set its role and password): the password is read from standard input.
    Add {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long)]
        name: String,
        /// analist, data-team, consulent or auditor
        #[arg(long)]
        role: String,
    },
    /// List the accounts (names and roles).
    List {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Remove an account.
    Remove {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long)]
        name: String,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: AuditAction,
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Check the chain of the audit log (and, with --count and --head, that nothing was cut off).
    Verify {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// The count printed by an earlier `inzicht audit head`.
        #[arg(long, requires = "head")]
        count: Option<u64>,
        /// The head printed by an earlier `inzicht audit head`.
        #[arg(long, requires = "count")]
        head: Option<String>,
    },
    /// Print the current head and count, to keep outside this machine.
    Head {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct ReportArgs {
    #[arg(long)]
    pub store: PathBuf,
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
}

fn key_file(store: &Path, key: &Option<PathBuf>) -> Result<PathBuf, Failure> {
    Ok(match key {
        Some(k) => k.clone(),
        None => inzicht_store::table::recorded_key_file(store, None)?,
    })
}

fn secrets(store: &Path, key: &Option<PathBuf>) -> Result<PathBuf, Failure> {
    Ok(inzicht_store::recordkeys::secrets_dir(&key_file(
        store, key,
    )?))
}

pub fn serve(a: ServeArgs) -> Result<(), Failure> {
    let key = key_file(&a.store, &a.key_file)?;
    inzicht_web::serve(inzicht_web::ServeConfig {
        store: a.store,
        key_file: key,
        bind: a.bind,
        on_ready: Some(Box::new(|addr| {
            eprintln!(
                "inzicht luistert op http://{addr}/ (Ctrl-C stopt) / listening on http://{addr}/"
            );
        })),
    })
    .map_err(Failure::usage)
}

/// Reads a password from standard input (without echo on a terminal).
fn read_password() -> Result<String, Failure> {
    use std::io::BufRead;
    let tty = unsafe { libc::isatty(0) } == 1;
    // SAFETY: termios is plain data; tcgetattr/tcsetattr on fd 0 only change echo.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if tty {
        eprint!("Wachtwoord (minstens 12 tekens) / password (at least 12 characters): ");
        unsafe {
            if libc::tcgetattr(0, &mut old) == 0 {
                let mut new = old;
                new.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &new);
            }
        }
    }
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    if tty {
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &old);
        }
        eprintln!();
    }
    r.map_err(|e| Failure::io(format!("reading the password: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn user(a: UserArgs) -> Result<(), Failure> {
    use inzicht_web::auth::{Role, Users};
    match a.action {
        UserAction::Add {
            store,
            key_file,
            name,
            role,
        } => {
            let dir = secrets(&store, &key_file)?;
            let role = Role::parse(&role).ok_or_else(|| {
                Failure::usage(format!(
                    "--role {role}: choose analist, data-team, consulent or auditor"
                ))
            })?;
            let password = read_password()?;
            let mut users = Users::load(&dir).map_err(Failure::usage)?;
            users.set(&name, role, &password).map_err(Failure::usage)?;
            users.save(&dir).map_err(Failure::io)?;
            eprintln!(
                "Account {name} ({}) opgeslagen in {}",
                role.name(),
                inzicht_web::auth::users_path(&dir).display()
            );
        }
        UserAction::List { store, key_file } => {
            let users = Users::load(&secrets(&store, &key_file)?).map_err(Failure::usage)?;
            for u in &users.users {
                println!("{}\t{}\t{}", u.name, u.role.name(), u.created);
            }
        }
        UserAction::Remove {
            store,
            key_file,
            name,
        } => {
            let dir = secrets(&store, &key_file)?;
            let mut users = Users::load(&dir).map_err(Failure::usage)?;
            let before = users.users.len();
            users.users.retain(|u| u.name != name);
            if users.users.len() == before {
                return Err(Failure::usage(format!("no account named {name}")));
            }
            users.save(&dir).map_err(Failure::io)?;
        }
    }
    Ok(())
}

pub fn audit(a: AuditArgs) -> Result<(), Failure> {
    match a.action {
        AuditAction::Verify {
            store,
            key_file,
            count,
            head,
        } => {
            let dir = secrets(&store, &key_file)?;
            let expect = count.zip(head.as_deref());
            match inzicht_web::audit::verify(&dir, expect) {
                Ok(h) => {
                    println!(
                        "in orde / ok: {} regels/entries, kop/head {}",
                        h.count, h.mac
                    );
                    Ok(())
                }
                Err(e) => Err(Failure::usage(format!(
                    "het auditlog klopt niet / the audit log does not verify: {e}"
                ))),
            }
        }
        AuditAction::Head { store, key_file } => {
            let dir = secrets(&store, &key_file)?;
            let h = inzicht_web::audit::verify(&dir, None).map_err(Failure::usage)?;
            println!(
                "{{\"count\": {}, \"head\": \"{}\", \"time\": \"{}\"}}",
                h.count,
                h.mac,
                inzicht_store::now_utc()
            );
            Ok(())
        }
    }
}

pub fn report(a: ReportArgs) -> Result<(), Failure> {
    let key = key_file(&a.store, &a.key_file)?;
    write_report(&a.store, &key, &a.out)?;
    eprintln!("Rapport / report: {}", a.out.display());
    Ok(())
}

/// The standalone HTML report of a store, written to `out`.
pub fn write_report(store: &Path, key: &Path, out: &Path) -> Result<(), Failure> {
    let html = inzicht_web::report::report(store, key).map_err(Failure::usage)?;
    std::fs::write(out, html).map_err(|e| Failure::io(format!("{}: {e}", out.display())))
}
