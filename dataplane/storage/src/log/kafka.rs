//! Shard logs on a Kafka-protocol broker (rdkafka): one topic per collection, one partition per
//! shard, an idempotent producer with `acks=all`. Kafka offsets are our offsets: without
//! transactions an idempotent producer gets dense offsets 0, 1, 2, … per partition.
//!
//! The broker's "latest offset" is not trusted on its own: some brokers (tansu 0.6) report the
//! base offset of the last record batch instead of the log end. [`LogStore::end_offset`] therefore
//! reads forward from the reported offset to the real end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{LogEntry, LogStore};
use crate::{Result, StorageError};

/// Largest record we produce or fetch (a batch of wide vectors can be tens of MiB).
const MAX_RECORD_BYTES: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `bootstrap.servers`
    pub brokers: String,
    /// prepended to every topic name, so that several clusters can share one broker
    pub topic_prefix: String,
    pub replication_factor: i32,
    /// extra librdkafka client properties (TLS, SASL, …), applied to every client
    pub client_properties: Vec<(String, String)>,
    /// how long a broker operation may take before it fails
    pub timeout: Duration,
    /// once a read has its first record, how long it may go on collecting more (it also ends at
    /// the end-of-partition signal or a full batch); the first record may take up to `timeout`
    pub read_idle: Duration,
}

impl KafkaOptions {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic_prefix: "quarry-".into(),
            replication_factor: 1,
            client_properties: Vec::new(),
            timeout: Duration::from_secs(30),
            read_idle: Duration::from_millis(300),
        }
    }
}

/// Client context of our consumers: librdkafka reports an end-of-partition also as a client
/// error once a read has moved on; reads see the end through `poll`, so those are dropped.
#[derive(Clone, Copy)]
struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        // the end of a partition arrives both as its own kind and as a "global" error code
        let end_of_partition = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            tracing::error!(error = %error, reason, "kafka client error");
        }
    }
}

impl ConsumerContext for Quiet {}

/// A consumer kept per partition (connections are costly), re-assigned at every read: that
/// discards events queued by the previous read, among them end-of-partition signals that are
/// stale once more records arrive.
struct Reader {
    consumer: BaseConsumer<Quiet>,
    /// the highest offset this consumer has read: offsets up to it exist
    last_seen: Option<u64>,
}

pub struct KafkaLog {
    options: KafkaOptions,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// for metadata and watermark queries
    meta: Arc<BaseConsumer<Quiet>>,
    readers: Mutex<HashMap<(String, u32), SharedReader>>,
}

/// One consumer per (topic, partition), shared by the reads of that partition.
type SharedReader = Arc<Mutex<Reader>>;

impl std::fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog")
            .field("brokers", &self.options.brokers)
            .field("prefix", &self.options.topic_prefix)
            .finish()
    }
}

fn kerr(context: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: "kafka",
        message: format!("{context}: {e}"),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
}

impl KafkaLog {
    pub fn connect(options: KafkaOptions) -> Result<Self> {
        let base = |extra: &[(&str, String)]| {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", &options.brokers);
            c.set("message.max.bytes", (MAX_RECORD_BYTES + 1024).to_string());
            for (k, v) in extra {
                c.set(*k, v);
            }
            for (k, v) in &options.client_properties {
                c.set(k, v);
            }
            c
        };
        let timeout_ms = options.timeout.as_millis().to_string();
        let producer = base(&[
            ("enable.idempotence", "true".into()),
            ("acks", "all".into()),
            ("linger.ms", "0".into()),
            ("message.timeout.ms", timeout_ms.clone()),
            ("compression.type", "none".into()),
        ])
        .create()
        .map_err(|e| kerr("creating producer", e))?;
        let admin = base(&[])
            .create()
            .map_err(|e| kerr("creating admin client", e))?;
        let meta = Arc::new(
            consumer_config(&base(&[]))
                .create_with_context(Quiet)
                .map_err(|e| kerr("creating consumer", e))?,
        );
        Ok(Self {
            options,
            producer,
            admin,
            meta,
            readers: Mutex::new(HashMap::new()),
        })
    }

    fn topic_name(&self, topic: &str) -> String {
        format!("{}{}", self.options.topic_prefix, topic)
    }

    fn admin_options(&self) -> AdminOptions {
        AdminOptions::new()
            .operation_timeout(Some(self.options.timeout))
            .request_timeout(Some(self.options.timeout))
    }

    /// The number of partitions of a topic, or `None` when it does not exist.
    async fn partitions(&self, name: &str) -> Result<Option<u32>> {
        let meta = self.meta.clone();
        let (name, timeout) = (name.to_string(), self.options.timeout);
        blocking(move || {
            let md = meta
                .fetch_metadata(Some(&name), timeout)
                .map_err(|e| kerr("fetching metadata", e))?;
            let Some(t) = md.topics().iter().find(|t| t.name() == name) else {
                return Ok(None);
            };
            match t.error() {
                None if !t.partitions().is_empty() => Ok(Some(t.partitions().len() as u32)),
                None => Ok(None),
                Some(e)
                    if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition =>
                {
                    Ok(None)
                }
                Some(e) => Err(kerr("topic metadata", RDKafkaErrorCode::from(e))),
            }
        })
        .await
    }

    async fn check_partition(&self, topic: &str, partition: u32) -> Result<String> {
        let name = self.topic_name(topic);
        match self.partitions(&name).await? {
            Some(n) if partition < n => Ok(name),
            _ => Err(StorageError::NoSuchLog {
                topic: topic.to_string(),
                partition,
            }),
        }
    }

    fn reader(&self, name: &str, partition: u32) -> Result<Arc<Mutex<Reader>>> {
        let mut readers = self.readers.lock();
        if let Some(r) = readers.get(&(name.to_string(), partition)) {
            return Ok(r.clone());
        }
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.options.brokers);
        for (k, v) in &self.options.client_properties {
            c.set(k, v);
        }
        let consumer = consumer_config(&c)
            .create_with_context(Quiet)
            .map_err(|e| kerr("creating consumer", e))?;
        let r = Arc::new(Mutex::new(Reader {
            consumer,
            last_seen: None,
        }));
        readers.insert((name.to_string(), partition), r.clone());
        Ok(r)
    }

    /// (first-record wait, idle wait) of reads
    fn wait(&self) -> (Duration, Duration) {
        (self.options.timeout, self.options.read_idle)
    }

    fn forget_readers(&self, name: &str) {
        self.readers.lock().retain(|(t, _), _| t != name);
    }
}

/// The configs of the topics we create: records up to [`MAX_RECORD_BYTES`]; no retention by
/// time or size (records go only through `DeleteRecords`, once persisted in segments); and
/// `min.insync.replicas = min(2, replication factor)`, so that with the producer's `acks=all` a
/// record is acknowledged only once two replicas have it (one when there is only one). A
/// replication factor below 1 (the broker's default) leaves the broker's default too.
fn topic_configs(replication_factor: i32) -> Vec<(&'static str, String)> {
    let mut configs = vec![
        ("max.message.bytes", (MAX_RECORD_BYTES + 1024).to_string()),
        ("retention.ms", "-1".to_string()),
        ("retention.bytes", "-1".to_string()),
    ];
    if replication_factor >= 1 {
        configs.push(("min.insync.replicas", replication_factor.min(2).to_string()));
    }
    configs
}

fn consumer_config(base: &ClientConfig) -> ClientConfig {
    let mut c = base.clone();
    c.set("group.id", "quarry-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "error")
        .set("fetch.wait.max.ms", "50")
        .set(
            "fetch.message.max.bytes",
            (MAX_RECORD_BYTES + 1024).to_string(),
        )
        .set(
            "receive.message.max.bytes",
            (2 * MAX_RECORD_BYTES).to_string(),
        );
    c
}

/// What one poll loop found.
enum Polled {
    /// records up to `max`, the partition end, or an idle pause
    Records(Vec<LogEntry>),
    OutOfRange,
}

/// Reads up to `max` records from the reader's position until the end-of-partition signal, a
/// full batch, or `idle` without progress after the first record (which may take `first`: a
/// new consumer has to connect and fetch).
fn poll_records_assigned(
    reader: &mut Reader,
    name: &str,
    partition: u32,
    from: u64,
    max: usize,
    wait: (Duration, Duration),
) -> Result<Polled> {
    let (first, idle) = wait;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(name, partition as i32, Offset::Offset(from as i64))
        .map_err(|e| kerr("assign", e))?;
    reader
        .consumer
        .assign(&tpl)
        .map_err(|e| kerr("assign", e))?;
    let mut out = Vec::new();
    let mut deadline = Instant::now() + first;
    while out.len() < max {
        let now = Instant::now();
        if now >= deadline {
            return Ok(Polled::Records(out));
        }
        match reader.consumer.poll(deadline - now) {
            None => continue,
            Some(Ok(m)) => {
                if m.topic() != name || m.partition() != partition as i32 {
                    continue;
                }
                let offset = m.offset() as u64;
                if offset < from + out.len() as u64 {
                    continue; // a stale record from before a re-assign
                }
                out.push(LogEntry {
                    offset,
                    payload: Bytes::copy_from_slice(m.payload().unwrap_or_default()),
                });
                reader.last_seen = reader.last_seen.max(Some(offset));
                if out.len() == 1 {
                    // from the first record on, the read lasts at most `idle`: a busy
                    // partition must not keep a read (or an end-offset probe) going for ever
                    deadline = Instant::now() + idle;
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition as i32 => {
                return Ok(Polled::Records(out))
            }
            Some(Err(KafkaError::PartitionEOF(_))) => continue,
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
            ))) => {
                return Ok(Polled::OutOfRange);
            }
            Some(Err(e)) => return Err(kerr("consuming", e)),
        }
    }
    Ok(Polled::Records(out))
}

/// The real end of a partition: the broker's "latest" offset, then forward to the last record
/// Reads from `from` (see [`poll_records_assigned`]), then stops the consumer's fetching until
/// the next read: an idle assigned consumer reports every empty fetch as an error.
fn poll_records(
    reader: &mut Reader,
    name: &str,
    partition: u32,
    from: u64,
    max: usize,
    wait: (Duration, Duration),
) -> Result<Polled> {
    let polled = poll_records_assigned(reader, name, partition, from, max, wait);
    let _ = reader.consumer.unassign();
    polled
}

/// (tansu 0.6 reports the base offset of the last batch as "latest").
fn true_end(
    reader: &mut Reader,
    meta: &BaseConsumer<Quiet>,
    name: &str,
    partition: u32,
    wait: (Duration, Duration),
) -> Result<u64> {
    let (_, reported) = meta
        .fetch_watermarks(name, partition as i32, wait.0)
        .map_err(|e| kerr("watermarks", e))?;
    let mut end = reported.max(0) as u64;
    // what is there now, from the reported offset on; a full batch means there may be more
    // (but a busy partition must not keep us chasing its end)
    const BATCH: usize = 10_000;
    loop {
        match poll_records(reader, name, partition, end, BATCH, wait)? {
            Polled::Records(r) => match r.last() {
                Some(last) if r.len() == BATCH => end = last.offset + 1,
                Some(last) => return Ok(last.offset + 1),
                None => return Ok(end),
            },
            Polled::OutOfRange => {
                return Err(kerr(
                    "finding the log end",
                    format!("{name}/{partition}: offset {end} out of range"),
                ))
            }
        }
    }
}

fn out_of_range(
    meta: &BaseConsumer<Quiet>,
    topic: &str,
    name: &str,
    partition: u32,
    offset: u64,
    timeout: Duration,
) -> StorageError {
    match meta.fetch_watermarks(name, partition as i32, timeout) {
        Ok((low, high)) => StorageError::OffsetOutOfRange {
            topic: topic.to_string(),
            partition,
            offset,
            start: low as u64,
            end: high as u64,
        },
        Err(e) => kerr("watermarks", e),
    }
}

#[async_trait]
impl LogStore for KafkaLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let name = self.topic_name(topic);
        let configs = topic_configs(self.options.replication_factor);
        let started = Instant::now();
        loop {
            let new = configs.iter().fold(
                NewTopic::new(
                    &name,
                    partitions as i32,
                    TopicReplication::Fixed(self.options.replication_factor),
                ),
                |new, (k, v)| new.set(k, v),
            );
            let results = self
                .admin
                .create_topics([&new], &self.admin_options())
                .await
                .map_err(|e| kerr("create topic", e))?;
            match results.into_iter().next() {
                Some(Ok(_)) | None => break,
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => match self
                    .partitions(&name)
                    .await?
                {
                    Some(n) if n == partitions => break,
                    Some(n) => {
                        return Err(kerr(
                            "create topic",
                            format!("{name} exists with {n} partitions, wanted {partitions}"),
                        ))
                    }
                    // still being deleted: wait for the deletion to finish
                    None if started.elapsed() < self.options.timeout => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    None => {
                        return Err(kerr("create topic", format!("{name} is stuck in deletion")))
                    }
                },
                Some(Err((_, code))) => return Err(kerr("create topic", code)),
            }
        }
        // metadata can lag behind the admin answer on some brokers: wait until it shows
        while self.partitions(&name).await? != Some(partitions) {
            if started.elapsed() > self.options.timeout {
                return Err(kerr(
                    "create topic",
                    format!("{name} did not appear in metadata"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!(topic = %name, partitions, "created kafka topic");
        Ok(())
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        let name = self.topic_name(topic);
        self.forget_readers(&name);
        let results = self
            .admin
            .delete_topics(&[&name], &self.admin_options())
            .await
            .map_err(|e| kerr("delete topic", e))?;
        match results.into_iter().next() {
            Some(Ok(_)) | None | Some(Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))) => {}
            Some(Err((_, code))) => return Err(kerr("delete topic", code)),
        }
        let started = Instant::now();
        while self.partitions(&name).await?.is_some() {
            if started.elapsed() > self.options.timeout {
                return Err(kerr(
                    "delete topic",
                    format!("{name} still listed after deletion"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!(topic = %name, "deleted kafka topic");
        Ok(())
    }

    async fn append(&self, topic: &str, partition: u32, payload: Bytes) -> Result<u64> {
        let name = self.check_partition(topic, partition).await?;
        let record = FutureRecord::<(), [u8]>::to(&name)
            .partition(partition as i32)
            .payload(&payload[..]);
        match self.producer.send(record, self.options.timeout).await {
            Ok(d) => Ok(d.offset as u64),
            Err((e, _)) => Err(kerr("produce", e)),
        }
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Result<Vec<LogEntry>> {
        let name = self.check_partition(topic, partition).await?;
        let reader = self.reader(&name, partition)?;
        let (meta, wait, topic) = (self.meta.clone(), self.wait(), topic.to_string());
        blocking(move || {
            let mut reader = reader.lock();
            // Only a broker answers "beyond the end" reliably on its own; tansu just sends nothing.
            // So unless this consumer has seen the record before `from`, find the end first.
            let known = from == 0 || reader.last_seen >= Some(from - 1);
            if !known && from > true_end(&mut reader, &meta, &name, partition, wait)? {
                return Err(out_of_range(&meta, &topic, &name, partition, from, wait.0));
            }
            match poll_records(&mut reader, &name, partition, from, max.max(1), wait)? {
                Polled::Records(records) => Ok(records),
                Polled::OutOfRange => {
                    Err(out_of_range(&meta, &topic, &name, partition, from, wait.0))
                }
            }
        })
        .await
    }

    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        let name = self.check_partition(topic, partition).await?;
        let reader = self.reader(&name, partition)?;
        let (meta, wait) = (self.meta.clone(), self.wait());
        blocking(move || true_end(&mut reader.lock(), &meta, &name, partition, wait)).await
    }

    async fn truncate_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        // Topics are created with infinite retention, so records go only when we say so: with
        // DeleteRecords, once they are persisted in segments. A broker without DeleteRecords
        // keeps them, which is allowed (backends may keep more than asked).
        let name = self.check_partition(topic, partition).await?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&name, partition as i32, Offset::Offset(offset as i64))
            .map_err(|e| kerr("delete records", e))?;
        match self.admin.delete_records(&tpl, &self.admin_options()).await {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(topic = %name, partition, offset, error = %e, "broker did not delete records; keeping them")
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min_insync(replication_factor: i32) -> Option<String> {
        topic_configs(replication_factor)
            .into_iter()
            .find(|(k, _)| *k == "min.insync.replicas")
            .map(|(_, v)| v)
    }

    #[test]
    fn min_insync_replicas_is_two_at_most() {
        assert_eq!(min_insync(1).as_deref(), Some("1"));
        assert_eq!(min_insync(2).as_deref(), Some("2"));
        assert_eq!(min_insync(3).as_deref(), Some("2"));
        assert_eq!(min_insync(5).as_deref(), Some("2"));
        // the broker's default replication factor: its default min.insync.replicas too
        assert_eq!(min_insync(-1), None);
        assert_eq!(min_insync(0), None);
    }

    #[test]
    fn topics_keep_records_until_deleted() {
        let configs = topic_configs(3);
        for (k, v) in [("retention.ms", "-1"), ("retention.bytes", "-1")] {
            assert!(configs.iter().any(|(ck, cv)| *ck == k && cv == v), "{k}");
        }
        let max: usize = configs
            .iter()
            .find(|(k, _)| *k == "max.message.bytes")
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert!(max > MAX_RECORD_BYTES);
    }
}
