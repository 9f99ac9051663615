//! The edge's settings for `run`: a TOML file (see `edge.example.toml`), overridden by flags.
//! Unknown keys are an error that names the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baycount_plumbing::config_file::{self, ConfigFileError};
use baycount_plumbing::mqtt_tls::{ClientTls, TlsWithoutMqtts};
use baycount_plumbing::mqtt_url::{self, MqttUrl, MqttUrlError};
use baycount_protocol::BayId;
use serde::Deserialize;

use crate::panel::gpio::{Backend, GpioConfig};
use crate::vision::camera::{Region, SourceSpec};
use crate::vision::counting_line::{Anchor, CounterConfig, Line};
use crate::vision::detector::runtime::RuntimeKind;
use crate::vision::detector::{DetectorOptions, ModelChoice, threads_or_default};
use crate::vision::pipeline_setup::PipelineSpec;
use crate::vision::pipeline_thread::{IDLE_FPS, PipelineThreadOptions};

/// The broker unless told otherwise: the relay's embedded one on this machine.
pub const DEFAULT_MQTT: &str = "mqtt://127.0.0.1:1883";

/// Why the settings cannot be used. Each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("no bay: set `bay` in the config file or give --bay")]
    NoBay,
    #[error("invalid bay: {0}")]
    Bay(String),
    #[error("no camera: set `source` in [camera] or give --source")]
    NoSource,
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error(transparent)]
    Mqtt(#[from] MqttUrlError),
    #[error(transparent)]
    TlsWithoutMqtts(#[from] TlsWithoutMqtts),
}

fn invalid(what: &'static str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        what,
        reason: reason.to_string(),
    }
}

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bay: Option<String>,
    pub mqtt: Option<String>,
    /// TLS (`mqtts://`): the broker's authority, and this edge's certificate for mutual TLS.
    pub mqtt_ca: Option<PathBuf>,
    pub mqtt_cert: Option<PathBuf>,
    pub mqtt_key: Option<PathBuf>,
    pub journal: Option<PathBuf>,
    pub journal_max_mb: Option<u64>,
    pub evidence_max_mb: Option<u64>,
    pub socket: Option<PathBuf>,
    #[serde(default)]
    pub camera: CameraSection,
    #[serde(default)]
    pub detector: DetectorSection,
    #[serde(default)]
    pub counting: CountingSection,
    #[serde(default)]
    pub gpio: GpioConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraSection {
    pub source: Option<String>,
    pub stall_seconds: f64,
    pub realtime: bool,
    #[serde(rename = "loop")]
    pub looped: bool,
}

impl Default for CameraSection {
    fn default() -> Self {
        Self {
            source: None,
            stall_seconds: 10.0,
            realtime: true,
            looped: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSection {
    pub model: Option<String>,
    pub labels: Option<PathBuf>,
    pub classes: Vec<String>,
    pub score: f32,
    pub threads: Option<usize>,
    pub runtime: Option<String>,
    pub idle_fps: f64,
    pub region: Option<String>,
}

impl Default for DetectorSection {
    fn default() -> Self {
        Self {
            model: None,
            labels: None,
            classes: vec![],
            score: 0.2,
            threads: None,
            runtime: None,
            idle_fps: IDLE_FPS,
            region: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CountingSection {
    pub line: Option<String>,
    pub anchor: String,
    pub band: f32,
}

impl Default for CountingSection {
    fn default() -> Self {
        Self {
            line: None,
            anchor: "bottom-center".into(),
            band: 0.01,
        }
    }
}

/// Flags that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bay: Option<String>,
    pub mqtt: Option<String>,
    pub mqtt_ca: Option<PathBuf>,
    pub mqtt_cert: Option<PathBuf>,
    pub mqtt_key: Option<PathBuf>,
    pub source: Option<String>,
    pub model: Option<String>,
    pub labels: Option<PathBuf>,
    pub line: Option<String>,
    pub classes: Vec<String>,
    pub gpio: Option<Backend>,
    pub journal: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub no_realtime: bool,
    pub looped: bool,
    pub idle_fps: Option<f64>,
    pub region: Option<String>,
}

/// The settings the edge runs with.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub bay: BayId,
    pub mqtt: MqttUrl,
    /// For `mqtts://`.
    pub mqtt_tls: Option<ClientTls>,
    pub journal: PathBuf,
    /// The journal's size limit; past it, counts wait in memory and the bay shows a fault.
    pub journal_max_bytes: u64,
    /// The budget of the events' pictures kept beside the journal until the relay has them;
    /// past it the oldest pictures are dropped (never a count).
    pub evidence_max_bytes: u64,
    pub socket: PathBuf,
    pub counting: PipelineThreadOptions,
    pub gpio: GpioConfig,
}

/// The counting line when none is configured: a horizontal line across the middle.
pub const DEFAULT_LINE: &str = "0,0.5,1,0.5";

impl EdgeConfig {
    /// Reads the file (if any) and applies the flags.
    pub fn load(path: Option<&Path>, o: Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => config_file::read(path, |f: &FileConfig| {
                let with_password = f.mqtt.as_deref().is_some_and(mqtt_url::holds_password);
                with_password.then_some("the MQTT password")
            })?,
            None => FileConfig::default(),
        };
        Self::resolve(file, o)
    }

    fn resolve(f: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let bay = o.bay.or(f.bay).ok_or(ConfigError::NoBay)?;
        let bay = BayId::parse(&bay).map_err(|e| ConfigError::Bay(e.to_string()))?;
        let mut mqtt = MqttUrl::parse(o.mqtt.or(f.mqtt).as_deref().unwrap_or(DEFAULT_MQTT))?;
        if let Ok(password) = std::env::var("BAYCOUNT_MQTT_PASSWORD") {
            mqtt.password = Some(password);
        }
        if mqtt.password.is_some() && mqtt.username.is_none() {
            // A bay's MQTT user is its bay id (the brokers' ACL relies on it).
            mqtt.username = Some(bay.to_string());
        }
        let mqtt_tls = ClientTls {
            ca: o.mqtt_ca.or(f.mqtt_ca),
            cert: o.mqtt_cert.or(f.mqtt_cert),
            key: o.mqtt_key.or(f.mqtt_key),
        }
        .for_broker(mqtt.tls)?;
        let source: SourceSpec = o
            .source
            .or(f.camera.source)
            .ok_or(ConfigError::NoSource)?
            .parse()
            .map_err(|e| invalid("camera source", e))?;
        let d = f.detector;
        let idle_fps = o.idle_fps.unwrap_or(d.idle_fps);
        if !(0.0..=1000.0).contains(&idle_fps) {
            return Err(invalid(
                "idle_fps",
                format!("{idle_fps} is not between 0 (every frame) and 1000"),
            ));
        }
        let model = ModelChoice::for_source(o.model.or(d.model).as_deref(), &source);
        let runtime = match d.runtime {
            Some(r) => r
                .parse::<RuntimeKind>()
                .map_err(|e| invalid("runtime", e))?,
            None => RuntimeKind::default(),
        };
        let detector = DetectorOptions {
            model,
            labels: o.labels.or(d.labels),
            classes: if o.classes.is_empty() {
                d.classes
            } else {
                o.classes
            },
            score_threshold: d.score,
            iou_threshold: 0.5,
            threads: threads_or_default(d.threads),
            runtime,
            region: match o.region.or(d.region) {
                Some(r) => r.parse().map_err(|e| invalid("region", e))?,
                None => Region::lines(),
            },
        };
        let c = f.counting;
        let line: Line = o
            .line
            .or(c.line)
            .as_deref()
            .unwrap_or(DEFAULT_LINE)
            .parse()
            .map_err(|e| invalid("counting line", e))?;
        let mut counter = CounterConfig::new(line);
        counter.anchor = c
            .anchor
            .parse::<Anchor>()
            .map_err(|e| invalid("anchor", e))?;
        if !(0.0..0.2).contains(&c.band) {
            return Err(invalid(
                "band",
                format!("{} is not between 0 and 0.2", c.band),
            ));
        }
        counter.band = c.band;
        if !(f.camera.stall_seconds > 0.0 && f.camera.stall_seconds <= 3600.0) {
            return Err(invalid(
                "stall_seconds",
                format!("{} is not between 0 and 3600", f.camera.stall_seconds),
            ));
        }
        let mut gpio = f.gpio;
        if let Some(b) = o.gpio {
            gpio.backend = b;
        }
        let state_dir = std::env::var_os("STATE_DIRECTORY").map(PathBuf::from);
        let journal = o.journal.or(f.journal).unwrap_or_else(|| match state_dir {
            Some(d) => d.join(format!("journal-{bay}.db")),
            None => PathBuf::from(format!("baycount-edge-{bay}.db")),
        });
        let socket = o
            .socket
            .or(f.socket)
            .unwrap_or_else(|| default_socket(&bay));
        // A size in MB: the file's, or the default.
        let megabytes = |what: &'static str, given: Option<u64>, default: u64| {
            let mb = given.unwrap_or(default >> 20);
            if (1..=1 << 20).contains(&mb) {
                Ok(mb)
            } else {
                Err(invalid(what, format!("{mb} is not between 1 and 1048576")))
            }
        };
        let journal_max_mb = megabytes(
            "journal_max_mb",
            f.journal_max_mb,
            crate::bay::journal::DEFAULT_MAX_BYTES,
        )?;
        let evidence_max_mb = megabytes(
            "evidence_max_mb",
            f.evidence_max_mb,
            crate::bay::evidence::DEFAULT_MAX_BYTES,
        )?;
        Ok(Self {
            counting: PipelineThreadOptions {
                pipeline: PipelineSpec {
                    source,
                    detector,
                    counter,
                    realtime: f.camera.realtime && !o.no_realtime,
                },
                looped: f.camera.looped || o.looped,
                stall: Duration::from_secs_f64(f.camera.stall_seconds),
                idle_fps,
            },
            bay,
            mqtt,
            mqtt_tls,
            journal,
            journal_max_bytes: journal_max_mb << 20,
            evidence_max_bytes: evidence_max_mb << 20,
            socket,
            gpio,
        })
    }
}

/// Where the running edge of `bay` listens for `baycount-edge press`: systemd's
/// `RuntimeDirectory`, else `/run/baycount` if it exists, else the user's runtime directory.
pub fn default_socket(bay: &BayId) -> PathBuf {
    let name = format!("edge-{bay}.sock");
    let run = Path::new("/run/baycount");
    if let Some(d) = std::env::var_os("RUNTIME_DIRECTORY") {
        PathBuf::from(d).join(name)
    } else if run.is_dir() {
        run.join(name)
    } else if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(d).join(name)
    } else {
        std::env::temp_dir().join(format!("baycount-{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EdgeConfig, ConfigError> {
        let f: FileConfig = config_file::parse(Path::new("edge.toml"), text)?;
        EdgeConfig::resolve(f, Overrides::default())
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../edge.example.toml");
        let c = parse(text).expect("example parses");
        assert_eq!(c.bay.as_str(), "bay-1");
        assert_eq!(c.gpio.backend, Backend::Sim);
        assert!(c.counting.pipeline.realtime);
    }

    #[test]
    fn mqtt_user_tls_and_secrets() {
        let c = parse(
            "bay = \"bay-7\"\nmqtt = \"mqtts://broker.local\"\nmqtt_ca = \"/x/ca.crt\"\n[camera]\nsource = \"synthetic\"\n",
        )
        .expect("valid");
        assert_eq!((c.mqtt.port, c.mqtt.tls), (8883, true));
        assert_eq!(
            c.mqtt_tls.and_then(|t| t.ca),
            Some(PathBuf::from("/x/ca.crt"))
        );
        let e = parse("bay = \"b\"\nmqtt_ca = \"/x/ca.crt\"\n[camera]\nsource = \"synthetic\"\n")
            .expect_err("CA without mqtts");
        assert!(matches!(e, ConfigError::TlsWithoutMqtts(_)), "{e}");
        let c =
            parse("bay = \"bay-7\"\nmqtt = \"mqtt://:pw@h\"\n[camera]\nsource = \"synthetic\"\n")
                .expect("valid");
        assert_eq!(
            c.mqtt.username.as_deref(),
            Some("bay-7"),
            "a bay's user is its id"
        );

        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("edge.toml");
        std::fs::write(
            &path,
            "bay = \"b\"\nmqtt = \"mqtt://b:pw@h\"\n[camera]\nsource = \"synthetic\"\n",
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = EdgeConfig::load(Some(&path), Overrides::default()).expect_err("readable");
        assert!(e.to_string().contains("chmod o-rwx"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        EdgeConfig::load(Some(&path), Overrides::default()).expect("private is fine");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("bay = \"b\"\n[camera]\nsource = \"synthetic\"\nfps = 3\n").expect_err("fps");
        assert!(e.to_string().contains("fps"), "{e}");
        let e = parse("bay = \"b\"\nbroker = \"x\"\n").expect_err("broker");
        assert!(e.to_string().contains("broker"), "{e}");
    }

    #[test]
    fn flags_override_the_file_and_bad_values_are_explained() {
        let f: FileConfig = toml::from_str(
            "bay = \"bay-1\"\n[camera]\nsource = \"synthetic\"\n[counting]\nline = \"0,0.5,1,0.5\"\n",
        )
        .expect("toml");
        let c = EdgeConfig::resolve(
            f,
            Overrides {
                bay: Some("bay-9".into()),
                line: Some("0.5,0,0.5,1".into()),
                gpio: Some(Backend::Cdev),
                no_realtime: true,
                looped: true,
                ..Overrides::default()
            },
        )
        .expect("valid");
        assert_eq!(c.bay.as_str(), "bay-9");
        assert_eq!(c.gpio.backend, Backend::Cdev);
        assert!(!c.counting.pipeline.realtime && c.counting.looped);
        assert_eq!(c.counting.pipeline.detector.model, ModelChoice::Blob);
        assert_eq!(c.counting.idle_fps, IDLE_FPS);
        let idle = |file: &str, flag: Option<f64>| {
            let f: FileConfig = toml::from_str(file).expect("toml");
            EdgeConfig::resolve(
                f,
                Overrides {
                    idle_fps: flag,
                    ..Overrides::default()
                },
            )
            .map(|c| c.counting.idle_fps)
        };
        let file = "bay = \"b\"\n[camera]\nsource = \"synthetic\"\n[detector]\nidle_fps = 0.5\n";
        assert_eq!(idle(file, None).expect("valid"), 0.5);
        assert_eq!(idle(file, Some(0.0)).expect("valid"), 0.0, "the flag wins");
        let e = idle(file, Some(-1.0)).expect_err("negative");
        assert!(e.to_string().contains("idle_fps"), "{e}");
        assert_eq!(c.counting.pipeline.detector.region, Region::lines());
        let region = |file: &str, flag: Option<&str>| {
            let f: FileConfig = toml::from_str(file).expect("toml");
            EdgeConfig::resolve(
                f,
                Overrides {
                    region: flag.map(str::to_owned),
                    ..Overrides::default()
                },
            )
            .map(|c| c.counting.pipeline.detector.region)
        };
        let file = "bay = \"b\"\n[camera]\nsource = \"synthetic\"\n[detector]\nregion = \"full\"\n";
        assert_eq!(region(file, None).expect("valid"), Region::Full);
        assert_eq!(
            region(file, Some("lines")).expect("valid"),
            Region::lines(),
            "the flag wins"
        );
        let e = region(file, Some("0.5,0,0.2,1")).expect_err("x2 before x1");
        assert!(e.to_string().contains("region"), "{e}");
        assert!(matches!(
            parse("[camera]\nsource = \"synthetic\"\n"),
            Err(ConfigError::NoBay)
        ));
        assert!(matches!(parse("bay = \"b\"\n"), Err(ConfigError::NoSource)));
        for bad in [
            "bay = \"b c\"\n[camera]\nsource = \"synthetic\"\n",
            "bay = \"b\"\nmqtt = \"http://x\"\n[camera]\nsource = \"synthetic\"\n",
            "bay = \"b\"\n[camera]\nsource = \"synthetic\"\n[counting]\nline = \"1,2\"\n",
            "bay = \"b\"\n[camera]\nsource = \"synthetic\"\nstall_seconds = 0\n",
            "bay = \"b\"\nevidence_max_mb = 0\n[camera]\nsource = \"synthetic\"\n",
            "bay = \"b\"\n[camera]\nsource = \"synthetic\"\n[gpio]\nbackend = \"gpiod\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
