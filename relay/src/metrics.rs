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
    /// Acks on one bay's topic for a command sent to another bay, ignored.
    pub acks_refused: Counter,
    /// Commands given, by action and outcome.
    pub commands: Family<Labels, Counter>,
    /// Bays whose edge is online.
    pub bays_online: Gauge,
    /// Connected WebSocket clients.
    pub ws_clients: Gauge,
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
            acks_refused: Counter::default(),
            commands: Family::default(),
            bays_online: Gauge::default(),
            ws_clients: Gauge::default(),
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

    pub fn refused(&self, reason: &str) {
        self.events_refused
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    pub fn message(&self, kind: &str) {
        self.mqtt_messages
            .get_or_create(&vec![("kind", kind.to_owned())])
            .inc();
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
}
