//! The binary under test, and `huiyuan serve` running in a child process on a free port.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_huiyuan");

/// How long a server may take to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `huiyuan serve`, stopped with SIGTERM (or killed when a test fails).
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// Starts the server on `data_dir` with JSON logs and cheap password hashing, `configure`
    /// adding to its command, and waits for its "listening" log line (no sleeping, no polling).
    /// Answers the server and the log lines up to that one.
    pub fn start(data_dir: &Path, configure: impl FnOnce(&mut Command)) -> (Server, Vec<String>) {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("HUIYUAN_ARGON2_MEMORY_KIB", "64")
            .env("HUIYUAN_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        configure(&mut command);
        let mut child = command.spawn().expect("spawn huiyuan serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout).lines().map_while(Result::ok);
        let mut lines = Vec::new();
        for line in reader.by_ref() {
            let listening = line.contains("\"listening\"");
            lines.push(line);
            if listening {
                break;
            }
        }
        assert!(
            lines.iter().any(|l| l.contains("\"listening\"")),
            "server did not start: {lines:?}"
        );
        // Keep draining the log, so the server never writes into a closed pipe.
        std::thread::spawn(move || reader.for_each(drop));
        (
            Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
            },
            lines,
        )
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
