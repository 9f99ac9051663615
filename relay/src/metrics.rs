//! Prometheus counters and gauges of the relay, served at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// The relay's metrics. Cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// MQTT messages received, by topic kind.
    pub mqtt_messages: Family<Labels, Counter>,
    /// MQTT messages dropped because they did not parse.
    pub mqtt_malformed: Counter,
    /// Count events newly stored.
    pub events_stored: Counter,
    /// Count events received again and ignored.
    pub events_duplicate: Counter,
    /// Count events refused (another bay's session, after its stop, a second start...), by reason.
    pub events_refused: Family<Labels, Counter>,
    /// Pieces of evidence (an event's picture, or word that it was dropped) newly stored.
    pub evidence_stored: Counter,
    /// Pieces of evidence received again and ignored.
    pub evidence_duplicate: Counter,
    /// Pieces of evidence refused (another bay's session, impossible numbers), by reason.
    pub evidence_refused: Family<Labels, Counter>,
    /// Pieces of evidence stored as word that the edge dropped the picture.
    pub evidence_dropped: Counter,
    /// Pictures deleted after the retention (`evidence_days`).
    pub evidence_pruned: Counter,
    /// Acks on one bay's topic for a command sent to another bay, ignored.
    pub acks_refused: Counter,
    /// Commands given, by action and outcome.
    pub commands: Family<Labels, Counter>,
    /// Bays whose edge is online.
    pub bays_online: Gauge,
    /// Connected WebSocket clients.
    pub ws_clients: Gauge,
    /// Connections refused as soon as accepted, by listener (mqtt, http) and reason
    /// (per_address, full).
    pub connections_refused: Family<Labels, Counter>,
    /// Connections open, by listener (MQTT: through the gate, logging in or logged in).
    pub connections_open: Family<Labels, Gauge>,
    /// The connection caps in force, by listener and kind (total, per_address; per_address is
    /// the MQTT gate's for connections still logging in).
    pub connection_limit: Family<Labels, Gauge>,
    /// The open-files limit the caps come from.
    pub open_files_limit: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("baycount");
        let m = Self {
            mqtt_messages: Family::default(),
            mqtt_malformed: Counter::default(),
            events_stored: Counter::default(),
            events_duplicate: Counter::default(),
            events_refused: Family::default(),
            evidence_stored: Counter::default(),
            evidence_duplicate: Counter::default(),
            evidence_refused: Family::default(),
            evidence_dropped: Counter::default(),
            evidence_pruned: Counter::default(),
            acks_refused: Counter::default(),
            commands: Family::default(),
            bays_online: Gauge::default(),
            ws_clients: Gauge::default(),
            connections_refused: Family::default(),
            connections_open: Family::default(),
            connection_limit: Family::default(),
            open_files_limit: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "mqtt_messages",
            "MQTT messages received, by kind",
            m.mqtt_messages.clone(),
        );
        registry.register(
            "mqtt_malformed",
            "MQTT messages dropped as malformed",
            m.mqtt_malformed.clone(),
        );
        registry.register(
            "events_stored",
            "Count events newly stored",
            m.events_stored.clone(),
        );
        registry.register(
            "events_duplicate",
            "Count events received again and ignored",
            m.events_duplicate.clone(),
        );
        registry.register(
            "events_refused",
            "Count events refused and not stored, by reason",
            m.events_refused.clone(),
        );
        registry.register(
            "evidence_stored",
            "Pieces of evidence (pictures of events, or word they were dropped) newly stored",
            m.evidence_stored.clone(),
        );
        registry.register(
            "evidence_duplicate",
            "Pieces of evidence received again and ignored",
            m.evidence_duplicate.clone(),
        );
        registry.register(
            "evidence_refused",
            "Pieces of evidence refused and not stored, by reason",
            m.evidence_refused.clone(),
        );
        registry.register(
            "evidence_dropped",
            "Pieces of evidence stored as word that the edge dropped the picture",
            m.evidence_dropped.clone(),
        );
        registry.register(
            "evidence_pruned",
            "Evidence pictures deleted after the retention (evidence_days)",
            m.evidence_pruned.clone(),
        );
        registry.register(
            "acks_refused",
            "Acks ignored because they came from a bay the command was not sent to",
            m.acks_refused.clone(),
        );
        registry.register(
            "commands",
            "Commands given to bays, by action and outcome",
            m.commands.clone(),
        );
        registry.register(
            "bays_online",
            "Bays whose edge is online",
            m.bays_online.clone(),
        );
        registry.register(
            "ws_clients",
            "Connected WebSocket clients",
            m.ws_clients.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections refused as soon as accepted, by listener and reason",
            m.connections_refused.clone(),
        );
        registry.register(
            "connections_open",
            "Connections open, by listener",
            m.connections_open.clone(),
        );
        registry.register(
            "connection_limit",
            "Connection caps in force, by listener and kind (total, per_address)",
            m.connection_limit.clone(),
        );
        registry.register(
            "open_files_limit",
            "The open files limit the connection caps come from",
            m.open_files_limit.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    pub fn command(&self, action: &str, outcome: &str) {
        self.commands
            .get_or_create(&vec![
                ("action", action.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    pub fn event_refused(&self, reason: &str) {
        self.events_refused
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    pub fn evidence_refused(&self, reason: &str) {
        self.evidence_refused
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    pub fn message(&self, kind: &str) {
        self.mqtt_messages
            .get_or_create(&vec![("kind", kind.to_owned())])
            .inc();
    }

    /// One connection refused by `listener` (mqtt, http) for `reason` (per_address, full).
    pub fn refused(&self, listener: &str, reason: &str) {
        self.connections_refused
            .get_or_create(&vec![
                ("listener", listener.to_owned()),
                ("reason", reason.to_owned()),
            ])
            .inc();
    }

    /// The gauge of `listener`'s open connections.
    pub fn connections_open(&self, listener: &str) -> Gauge {
        self.connections_open
            .get_or_create(&vec![("listener", listener.to_owned())])
            .clone()
    }

    /// Shows the caps of `budget` (the MQTT ones only when the gate runs).
    pub fn limits(&self, budget: &crate::limits::Budget, mqtt_gate: bool) {
        let gauge = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        self.open_files_limit
            .set(i64::try_from(budget.open_files).unwrap_or(i64::MAX));
        let mut caps = vec![
            ("http", "total", budget.http_connections),
            ("http", "per_address", budget.http_per_address),
        ];
        if mqtt_gate {
            caps.push(("mqtt", "total", budget.mqtt_connections));
            caps.push(("mqtt", "per_address", budget.mqtt_handshakes_per_address));
        }
        for (listener, kind, value) in caps {
            self.connection_limit
                .get_or_create(&vec![
                    ("listener", listener.to_owned()),
                    ("kind", kind.to_owned()),
                ])
                .set(gauge(value));
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.events_stored.inc();
        m.command("start", "ok");
        let text = m.render();
        assert!(text.contains("baycount_events_stored_total 1"), "{text}");
        assert!(
            text.contains("baycount_commands_total{action=\"start\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn renders_refusals_and_caps() {
        let m = Metrics::default();
        m.refused("mqtt", "per_address");
        m.limits(&crate::limits::Budget::split(1024), true);
        let text = m.render();
        for line in [
            "baycount_connections_refused_total{listener=\"mqtt\",reason=\"per_address\"} 1",
            "baycount_connection_limit{listener=\"mqtt\",kind=\"total\"} 224",
            "baycount_connection_limit{listener=\"http\",kind=\"per_address\"} 56",
            "baycount_open_files_limit 1024",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
    }
}
