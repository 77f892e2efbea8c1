"""Settings: the only place that reads the environment (validated once, at start-up)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIBAN_", populate_by_name=True, extra="ignore")

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/jiban", alias="DATABASE_URL"
    )
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    # Idempotent producers need InitProducerId, which the embedded broker (Tansu) refuses.
    kafka_enable_idempotence: bool = Field(False, alias="KAFKA_ENABLE_IDEMPOTENCE")
    # How every Kafka client connects (deploy/README.md "Broker security"): PLAINTEXT for the
    # embedded broker; a managed Kafka usually SASL_SSL with SCRAM and the provider's CA.
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism | None = Field(None, alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, alias="KAFKA_SASL_PASSWORD")
    # Unset CA file: the system's CAs. A client certificate (and its key) for mutual TLS.
    kafka_ssl_cafile: str | None = Field(None, alias="KAFKA_SSL_CAFILE")
    kafka_ssl_certfile: str | None = Field(None, alias="KAFKA_SSL_CERTFILE")
    kafka_ssl_keyfile: str | None = Field(None, alias="KAFKA_SSL_KEYFILE")
    kafka_ssl_key_password: SecretStr | None = Field(None, alias="KAFKA_SSL_KEY_PASSWORD")
    # Lets several environments (or test cases) share one cluster without seeing each other.
    topic_prefix: str = ""
    # At least six, so that up to six replicas of a service share a topic's work.
    topic_partitions: int = Field(6, ge=6)
    topic_replication_factor: int = Field(1, ge=1)

    # The one switch for development conveniences; a production service refuses them.
    dev_mode: bool = False

    http_host: str = "127.0.0.1"
    # One port for whichever service this process runs (containers); else each its own port.
    http_port: int | None = None
    intake_port: int = 8001
    dispatch_port: int = 8002
    tracking_port: int = 8003
    notify_port: int = 8004
    console_port: int = 8005
    log_level: str = "INFO"

    db_pool_size: int = Field(10, ge=1)
    # The relay is woken at once by its own service's commits; the poll is for rows others
    # wrote (the CLI; a commit that met another replica's relay holding the lock), and idle it
    # costs a transaction per poll.
    outbox_poll_interval_s: float = Field(2.0, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    # Messages a consumer handles in one transaction (at most; it takes what one poll returns).
    consumer_batch_size: int = Field(100, ge=1, le=10_000)
    # Handler errors that are not infrastructure failures get this many tries before the DLQ.
    consumer_max_attempts: int = Field(3, ge=1)
    consumer_max_backoff_s: float = Field(10.0, gt=0)
    # How long a fetch waits at the broker for messages. Apache Kafka answers as soon as one
    # comes, so this is only what an idle consumer costs. Tansu sleeps after every look, half of
    # what is left of the wait while that is 250 ms or more, all of it below: even a fetch that
    # found messages at once answers 125 ms late at 250, 250 ms late at 500, 200 ms late at 200.
    # 250 is the least latency per hop there without polling in a loop.
    consumer_fetch_max_wait_ms: int = Field(250, ge=1, le=30_000)
    # A member silent this long leaves its group and its partitions move (heartbeats every third
    # of it, from a background task, so a slow handler does not count). Shorter means faster
    # failover and, on some brokers (Tansu), faster joins; too short and a busy host flaps.
    consumer_session_timeout_ms: int = Field(10_000, ge=1_000, le=300_000)
    # Static group membership (KIP-345): a name stable across restarts and unique among the
    # service's replicas (Kubernetes: the StatefulSet pod's name). A member that restarts within
    # the session timeout gets its partitions back without a rebalance; it also never leaves its
    # groups on shutdown, so its partitions wait out the session timeout. Unset: dynamic members.
    group_instance_id: str | None = Field(None, min_length=1, max_length=200)
    # /readyz reports a consumer stuck on one message for longer than this.
    consumer_stuck_after_s: float = Field(60.0, gt=0)
    # Dead-letter bodies above this are cut (the broker would refuse them anyway).
    dlq_max_body_bytes: int = Field(512 * 1024, ge=1024)
    # How often each service reads its consumer groups' lag from the broker (jiban_consumer_lag).
    metrics_lag_interval_s: float = Field(15.0, gt=0)

    # Tracking codes (DW-20261127-418305-7): the zone's prefix, and the secret that scrambles
    # the number so that codes cannot be guessed by counting. Required outside development.
    tracking_code_prefix: str = Field("DW", pattern=r"^[A-Z]{1,6}$")
    tracking_code_key: SecretStr | None = None

    # Channel adapters' keys: their secrets are encrypted at rest with this Fernet key (several,
    # comma-separated, newest first, to rotate). Required outside development.
    channel_key_encryption_key: SecretStr | None = None
    # Signed requests older or newer than this are refused; a signature is accepted only once.
    signature_window_s: int = Field(300, ge=1)
    # Channels whose messages on appeals.inbound.<channel> intake takes unsigned
    # (comma-separated); every other channel's adapter signs each message (shared/signing.py).
    inbound_unsigned_channels: str = ""
    # A signed inbound message may wait on its topic this long before intake consumes it (an
    # intake or database outage; Kafka keeps messages 7 days by default); its clock may still
    # run at most `signature_window_s` ahead. Replay records are kept as long.
    inbound_signature_max_age_s: int = Field(7 * 24 * 3600, ge=1)
    # The unsigned `web` channel: per client address, behind these proxies (CIDRs, comma-separated).
    web_rate_limit_per_minute: int = Field(60, ge=1)
    web_rate_limit_burst: int = Field(20, ge=1)
    trusted_proxies: str = ""

    # Intake's classification rules (YAML, ops-editable); unset: the rules shipped with intake.
    classification_rules_path: str | None = None
    # A submission joins one of its appellant's open appeals this similar and at most this old.
    merge_threshold: float = Field(0.55, gt=0, le=1)
    merge_window_hours: float = Field(72, gt=0)

    # People's sign-in (shared/identity.py): HS256 with a shared secret, or RS256 against the
    # identity provider's JWKS. Outside development one of the two is required.
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str = "jiban"
    jwt_issuer: str | None = None
    jwt_leeway_s: float = Field(30, ge=0)
    jwks_cache_s: float = Field(300, gt=0)

    # Tracking's deadlines (services/tracking/deadlines/): the working-day
    # overrides ops edit (YAML; unset: the file shipped with tracking) and the deadline policy
    # (YAML merged into the defaults; unset: the defaults).
    working_days_overrides_path: str | None = None
    deadline_policy_path: str | None = None
    # How often the deadline scheduler looks for due deadlines (it is also woken by commits).
    scheduler_poll_interval_s: float = Field(5.0, gt=0)
    scheduler_batch_size: int = Field(200, ge=1)
    # Not yet acknowledged (签收): a reminder this often until it is.
    acknowledge_reminder_every_minutes: int = Field(240, ge=1)
    # Which follow-up answers count as satisfied in the satisfaction rate (comma-separated).
    satisfaction_counts: str = "satisfied,basically_satisfied"
    # The five-ones reminder goes out this many days before the month ends.
    five_ones_remind_days_before_month_end: int = Field(3, ge=0, le=27)
    # The public status page (GET /v1/status/{code}?phone_last4=): wrong guesses allowed per
    # tracking code and per client address in each window, across every tracking replica.
    status_guesses_per_code: int = Field(5, ge=1, le=1000)
    status_guesses_per_client: int = Field(30, ge=1, le=100_000)
    status_guess_window_s: int = Field(900, ge=10, le=86_400)

    # Notify's words (zh-CN or en) and its clock: non-urgent SMS to appellants wait out the quiet
    # hours (local time; "off" for none).
    notify_language: str = Field("zh-CN", pattern=r"^(zh-CN|en)$")
    notify_quiet_hours: str = "22:00-08:00"
    # Retries of a failing delivery: exponential backoff with jitter, from base to cap, then
    # `failed` (ops can resend).
    notify_max_attempts: int = Field(8, ge=1, le=50)
    notify_retry_base_s: float = Field(30.0, gt=0)
    notify_retry_max_s: float = Field(3600.0, gt=0)
    notify_poll_interval_s: float = Field(1.0, gt=0)
    notify_batch_size: int = Field(50, ge=1)
    # Messages per second per provider (`smtp`, `sms_gateway`, `webhook`), e.g. {"sms_gateway": 20}.
    notify_rate_limits: dict[str, float] = Field(default_factory=dict)
    # E-mail (SMTP). Unset host: no e-mail provider.
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "jiban@localhost"
    smtp_use_tls: bool = False
    smtp_start_tls: bool | None = None
    # The whole send, at most 120 s: the delivery lease follows from the providers' timeouts.
    smtp_timeout_s: float = Field(10.0, gt=0, le=120)
    # Message-IDs are <delivery id@this domain>: the same for every attempt of one delivery.
    smtp_message_id_domain: str = "jiban.local"
    # SMS through an HTTP gateway: the vendor's URL, its headers (JSON object, e.g. the
    # Authorization), and the request body as a Jinja2 template over phone, text, delivery_id,
    # kind. Unset URL: no SMS provider.
    sms_gateway_url: str | None = None
    sms_gateway_headers: dict[str, SecretStr] = Field(default_factory=dict)
    sms_gateway_body_template: str | None = None
    sms_gateway_timeout_s: float = Field(5.0, gt=0, le=60)
    # Status callbacks to the channels' systems: a JSON object of channel → {"url", "key_id",
    # "secret"}; the body is signed like adapters sign what they send to intake.
    notify_webhooks: dict[str, dict[str, str]] = Field(default_factory=dict)
    notify_webhook_timeout_s: float = Field(5.0, gt=0, le=60)

    # The console (services/console/): where it reaches the other services' public HTTP APIs
    # (as the signed-in person would), how long a sign-in lasts, and whether its cookie is
    # Secure (on outside development: the console is served over HTTPS there).
    console_dispatch_url: str = "http://127.0.0.1:8002"
    console_tracking_url: str = "http://127.0.0.1:8003"
    console_notify_url: str = "http://127.0.0.1:8004"
    console_session_minutes: int = Field(480, ge=1, le=24 * 60)
    console_secure_cookies: bool | None = None
    console_backend_timeout_s: float = Field(10.0, gt=0, le=120)
    # How often each console replica looks for new live notices for its open pages.
    console_live_poll_s: float = Field(1.0, gt=0, le=30)
    # Production sign-in: OpenID Connect (authorisation code with PKCE) against the
    # organisation's identity provider. Unset issuer: only the development sign-in page. The
    # console hands the services the provider's ID token, so they verify it with
    # JIBAN_JWT_JWKS_URL = the provider's keys, JIBAN_JWT_AUDIENCE = the client id and
    # JIBAN_JWT_ISSUER = the issuer.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # What the console asks for: the provider must put `roles` and `unit` in the ID token.
    oidc_scope: str = "openid profile"
    # The console's own address as the identity provider redirects back to it (register
    # <it>/sign-in/oidc/callback, and <it>/sign-in for after signing out, with the provider).
    console_public_url: str = "http://127.0.0.1:8005"

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, url: str) -> str:
        # Ops hand over plain postgres:// URLs; the services speak asyncpg.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        return url

    @field_validator(
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "jwt_jwks_url",
        "jwt_issuer",
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        "group_instance_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # docker-compose passes an unset JIBAN_OIDC_* or JIBAN_JWT_* as an empty string.
        return None if value == "" else value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _kafka_upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Settings:
        # Settings the chosen protocol would silently ignore, or lack, stop the start-up.
        protocol = self.kafka_security_protocol
        sasl = {
            "KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        if protocol.startswith("SASL_"):
            missing = [name for name, value in sasl.items() if not value]
            if missing:
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL is {protocol}: {', '.join(missing)} needed too"
                )
        elif given := [name for name, value in sasl.items() if value]:
            raise ValueError(
                f"{', '.join(given)} set but KAFKA_SECURITY_PROTOCOL is {protocol} "
                "(SASL_PLAINTEXT or SASL_SSL uses them)"
            )
        files = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        tls = {**files, "KAFKA_SSL_KEY_PASSWORD": self.kafka_ssl_key_password}
        if not protocol.endswith("SSL") and (given := [n for n, v in tls.items() if v]):
            raise ValueError(
                f"{', '.join(given)} set but KAFKA_SECURITY_PROTOCOL is {protocol} "
                "(SSL or SASL_SSL uses them)"
            )
        for name, path in files.items():
            if path and not Path(path).is_file():
                raise ValueError(f"{name}: no such file {path}")
        if (self.kafka_ssl_keyfile or self.kafka_ssl_key_password) and not self.kafka_ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE and KAFKA_SSL_KEY_PASSWORD need KAFKA_SSL_CERTFILE")
        return self

    @model_validator(mode="after")
    def _oidc_client_complete(self) -> Settings:
        # An issuer without the client's credentials cannot sign anyone in: say so at start-up.
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "JIBAN_OIDC_ISSUER is set: JIBAN_OIDC_CLIENT_ID and JIBAN_OIDC_CLIENT_SECRET "
                "are needed too"
            )
        return self

    def port_for(self, service: str) -> int:
        return self.http_port or int(getattr(self, f"{service}_port"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
