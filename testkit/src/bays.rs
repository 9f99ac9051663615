//! Bays with MQTT passwords: the password file a relay's embedded broker reads, and each bay's
//! login for its client.

use std::path::{Path, PathBuf};

use baycount_relay::broker::users::set_password;
use rumqttc::MqttOptions;

/// The bays `bay-1` and `bay-2` and their passwords, for tests that need two.
pub const TWO_BAYS: [(&str, &str); 2] = [("bay-1", "one-pw"), ("bay-2", "two-pw")];

/// Writes a Mosquitto-format password file of `users` in `dir`.
pub fn password_file(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("mqtt.passwd");
    for (user, pw) in users {
        set_password(&path, user, pw).unwrap();
    }
    path
}

/// Sets a client's credentials to `user`'s.
pub fn login(user: &'static str, password: &'static str) -> impl FnOnce(&mut MqttOptions) {
    move |o| {
        o.set_credentials(user, password);
    }
}

/// The login of one of [`TWO_BAYS`].
pub fn login_as(bay: &'static str) -> impl FnOnce(&mut MqttOptions) {
    let (user, pw) = TWO_BAYS
        .into_iter()
        .find(|(u, _)| *u == bay)
        .unwrap_or_else(|| panic!("{bay} is not one of TWO_BAYS"));
    login(user, pw)
}
