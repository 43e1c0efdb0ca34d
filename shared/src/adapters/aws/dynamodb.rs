//! The records port on DynamoDB: one table with a string partition key and sort key, TTL on
//! the expiry attribute.
//!
//! Every condition is a DynamoDB `ConditionExpression`, so DynamoDB itself decides races.
//! Expiry is checked on every read and in every condition, because TTL deletion runs up to
//! days late (and never in emulators): an expired item is treated as absent everywhere.

use crate::adapters::aws::SdkFailure;
use crate::ports::records::{
    Change, Expect, NewRecord, Order, Page, Query, Record, RecordKey, RecordStore, RecordsError,
    RecordsResult, SortRange, Write, decode_cursor, is_live, now_unix, validate_body, validate_key,
    validate_query, validate_transaction,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, ReturnValue, TableStatus,
    TransactWriteItem, Update,
};
use std::collections::HashMap;

/// The table's partition key attribute (a string).
pub const PARTITION_KEY: &str = "pk";
/// The table's sort key attribute (a string).
pub const SORT_KEY: &str = "sk";
/// The TTL attribute: expiry in Unix seconds (a number), absent on records that never expire.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The record version (a number).
pub const VERSION_ATTRIBUTE: &str = "version";
/// The record state (a string), absent when the record has none.
pub const STATE_ATTRIBUTE: &str = "state";
/// The record body as JSON text (a string).
pub const BODY_ATTRIBUTE: &str = "body";
/// A counter's value (a number). Counter items have only the keys, this and the expiry.
pub const COUNTER_ATTRIBUTE: &str = "counter";

/// Rounds of "add to a live counter, else replace an expired one" before giving up: a round
/// is lost only when another writer replaced the expired counter in between, which lets the
/// next round's addition succeed.
const COUNTER_ROUNDS: usize = 4;

/// Error codes that mean "slow down or try again", whichever operation returned them.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Cancellation reasons of a transaction that a retry may get past.
const RETRYABLE_CANCELLATIONS: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// Sets what every conditional write of one item takes alike, whichever of the SDK's builders
/// (which share no trait) it is: the table, the condition, and the placeholders that the
/// condition and any update expression use.
macro_rules! conditional {
    ($builder:expr, $table:expr, $condition:expr, $placeholders:expr) => {
        $builder
            .table_name($table)
            .condition_expression($condition)
            .set_expression_attribute_names(Some($placeholders.names))
            .set_expression_attribute_values(Some($placeholders.values))
    };
}

/// The records store in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoRecords {
    client: Client,
    table: String,
}

impl DynamoRecords {
    /// Uses `table`, which must already exist with the layout of this module's constants.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Maps an SDK failure of `operation` to the port's error.
    fn error<E>(&self, operation: &str, error: SdkError<E, HttpResponse>) -> RecordsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let failure = SdkFailure::new(
            &error,
            RETRYABLE_CODES,
            format_args!("DynamoDB {operation} on {}", self.table),
        );
        records_error(&self.table, failure)
    }

    /// The item at `key` as stored (expired or not), read consistently.
    async fn item(
        &self,
        key: &RecordKey,
    ) -> RecordsResult<Option<HashMap<String, AttributeValue>>> {
        validate_key(key)?;
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(&key.partition, &key.sort)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        Ok(output.item)
    }

    /// The `TransactWriteItem` for one validated write.
    fn transact_item(&self, write: Write, now: i64) -> RecordsResult<TransactWriteItem> {
        let build_error =
            |e: aws_sdk_dynamodb::error::BuildError| RecordsError::Internal(e.to_string());
        let item = match write {
            Write::Create(record) => {
                let mut placeholders = Placeholders::default();
                let condition = placeholders.create_condition(now);
                let put = conditional!(Put::builder(), &self.table, condition, placeholders)
                    .set_item(Some(new_item(&record)?))
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put).build()
            }
            Write::Update {
                key,
                expect,
                change,
            } => {
                let mut placeholders = Placeholders::default();
                let condition = placeholders.expect_condition(&expect, now);
                let update_expression = placeholders.change(&change)?;
                let update = conditional!(Update::builder(), &self.table, condition, placeholders)
                    .set_key(Some(key_item(&key.partition, &key.sort)))
                    .update_expression(update_expression)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update).build()
            }
            Write::Delete { key, expect } => {
                let mut placeholders = Placeholders::default();
                let condition = placeholders.expect_condition(&expect, now);
                let delete = conditional!(Delete::builder(), &self.table, condition, placeholders)
                    .set_key(Some(key_item(&key.partition, &key.sort)))
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            Write::Check { key, expect } => {
                let mut placeholders = Placeholders::default();
                let condition = placeholders.expect_condition(&expect, now);
                let check = conditional!(
                    ConditionCheck::builder(),
                    &self.table,
                    condition,
                    placeholders
                )
                .set_key(Some(key_item(&key.partition, &key.sort)))
                .build()
                .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }
}

#[async_trait]
impl RecordStore for DynamoRecords {
    async fn get(&self, key: &RecordKey) -> RecordsResult<Option<Record>> {
        match self.item(key).await? {
            Some(item) => {
                let record = decode_item(&item)?;
                Ok(is_live(record.expires_at, now_unix()).then_some(record))
            }
            None => Ok(None),
        }
    }

    async fn create(&self, record: NewRecord) -> RecordsResult<Record> {
        validate_key(&record.key)?;
        let item = new_item(&record)?;
        let mut placeholders = Placeholders::default();
        let condition = placeholders.create_condition(now_unix());
        let result = conditional!(self.client.put_item(), &self.table, condition, placeholders)
            .set_item(Some(item))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Record {
                key: record.key,
                version: 1,
                state: record.state,
                body: record.body,
                expires_at: record.expires_at,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(RecordsError::ConditionFailed { key: record.key })
            }
            Err(e) => Err(self.error("PutItem", e)),
        }
    }

    async fn update(
        &self,
        key: &RecordKey,
        expect: Expect,
        change: Change,
    ) -> RecordsResult<Record> {
        validate_key(key)?;
        let mut placeholders = Placeholders::default();
        let update_expression = placeholders.change(&change)?;
        let condition = placeholders.expect_condition(&expect, now_unix());
        let result = conditional!(
            self.client.update_item(),
            &self.table,
            condition,
            placeholders
        )
        .set_key(Some(key_item(&key.partition, &key.sort)))
        .update_expression(update_expression)
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
        match result {
            Ok(output) => match output.attributes() {
                Some(item) => decode_item(item),
                None => Err(RecordsError::Internal(format!(
                    "UpdateItem on {key} returned no attributes"
                ))),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(RecordsError::ConditionFailed { key: key.clone() })
            }
            Err(e) => Err(self.error("UpdateItem", e)),
        }
    }

    async fn delete(&self, key: &RecordKey, expect: Expect) -> RecordsResult<()> {
        validate_key(key)?;
        let mut placeholders = Placeholders::default();
        let condition = placeholders.expect_condition(&expect, now_unix());
        let result = conditional!(
            self.client.delete_item(),
            &self.table,
            condition,
            placeholders
        )
        .set_key(Some(key_item(&key.partition, &key.sort)))
        .send()
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(RecordsError::ConditionFailed { key: key.clone() })
            }
            Err(e) => Err(self.error("DeleteItem", e)),
        }
    }

    /// `Limit` counts items before the expiry filter, so this keeps reading until it has one
    /// record more than the page (which tells whether another page follows) or the range
    /// ends.
    async fn query(&self, query: &Query) -> RecordsResult<Page> {
        validate_query(query)?;
        let mut start_key = query
            .cursor
            .as_deref()
            .map(|cursor| decode_cursor(&query.partition, cursor))
            .transpose()?
            .map(|sort| key_item(&query.partition, &sort));
        let page_size = usize::try_from(query.limit)
            .map_err(|_| RecordsError::Invalid("page size does not fit in memory".into()))?;
        let wanted = page_size + 1;

        let mut placeholders = Placeholders::default();
        let key_condition = placeholders.key_condition(&query.partition, &query.range);
        let filter = placeholders.live_filter(now_unix());

        let mut records = Vec::with_capacity(wanted);
        loop {
            let remaining = i32::try_from(wanted - records.len()).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&key_condition)
                .filter_expression(&filter)
                .set_expression_attribute_names(Some(placeholders.names.clone()))
                .set_expression_attribute_values(Some(placeholders.values.clone()))
                .consistent_read(true)
                .scan_index_forward(query.order == Order::Ascending)
                .limit(remaining)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            for item in output.items() {
                if records.len() < wanted {
                    records.push(decode_item(item)?);
                }
            }
            match output.last_evaluated_key {
                Some(last) if records.len() < wanted => start_key = Some(last),
                _ => break,
            }
        }

        Ok(Page::from_lookahead(records, page_size))
    }

    async fn transact(&self, writes: Vec<Write>) -> RecordsResult<()> {
        validate_transaction(&writes)?;
        let keys: Vec<RecordKey> = writes.iter().map(|write| write.key().clone()).collect();
        let now = now_unix();
        let items = writes
            .into_iter()
            .map(|write| self.transact_item(write, now))
            .collect::<RecordsResult<Vec<_>>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Err(
                    cancellation_error(&self.table, cancelled.cancellation_reasons(), &keys),
                ),
                _ => Err(self.error("TransactWriteItems", e)),
            },
        }
    }

    /// `ADD` on a live (or absent) item, which DynamoDB applies atomically. An expired item
    /// that TTL has not deleted yet fails that condition and is replaced instead.
    async fn add_to_counter(
        &self,
        key: &RecordKey,
        delta: i64,
        expires_at: i64,
    ) -> RecordsResult<i64> {
        validate_key(key)?;
        for _ in 0..COUNTER_ROUNDS {
            let now = now_unix();
            let mut placeholders = Placeholders::default();
            let pk = placeholders.name("#pk", PARTITION_KEY);
            let counter = placeholders.name("#counter", COUNTER_ATTRIBUTE);
            let expires = placeholders.name("#expires", TTL_ATTRIBUTE);
            let now_value = placeholders.value(":now", number(now));
            let delta_value = placeholders.value(":delta", number(delta));
            let expires_value = placeholders.value(":expires_at", number(expires_at));
            let condition = format!("attribute_not_exists({pk}) OR {expires} > {now_value}");
            let update = format!("ADD {counter} {delta_value} SET {expires} = {expires_value}");
            let added = conditional!(
                self.client.update_item(),
                &self.table,
                condition,
                placeholders
            )
            .set_key(Some(key_item(&key.partition, &key.sort)))
            .update_expression(update)
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
            match added {
                Ok(output) => return decode_counter(key, output.attributes()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.error("UpdateItem", e)),
            }
            let mut placeholders = Placeholders::default();
            let expires = placeholders.name("#expires", TTL_ATTRIBUTE);
            let now_value = placeholders.value(":now", number(now));
            let condition = format!("{expires} <= {now_value}");
            let mut item = key_item(&key.partition, &key.sort);
            item.insert(COUNTER_ATTRIBUTE.to_owned(), number(delta));
            item.insert(TTL_ATTRIBUTE.to_owned(), number(expires_at));
            let replaced =
                conditional!(self.client.put_item(), &self.table, condition, placeholders)
                    .set_item(Some(item))
                    .send()
                    .await;
            match replaced {
                Ok(_) => return Ok(delta),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.error("PutItem", e)),
            }
        }
        Err(RecordsError::Unavailable(format!(
            "counter {key} was replaced by others {COUNTER_ROUNDS} times in a row"
        )))
    }

    async fn read_counter(&self, key: &RecordKey) -> RecordsResult<Option<i64>> {
        let Some(item) = self.item(key).await? else {
            return Ok(None);
        };
        if !is_live(decode_expiry(&item)?, now_unix()) {
            return Ok(None);
        }
        decode_counter(key, Some(&item)).map(Some)
    }

    async fn health(&self) -> RecordsResult<()> {
        let output = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.error("DescribeTable", e))?;
        match output.table().and_then(|table| table.table_status()) {
            Some(TableStatus::Active | TableStatus::Updating) => Ok(()),
            Some(status) => Err(RecordsError::Unavailable(format!(
                "DynamoDB table {} is {}",
                self.table,
                status.as_str()
            ))),
            None => Err(RecordsError::Unavailable(format!(
                "DynamoDB table {} reported no status",
                self.table
            ))),
        }
    }
}

/// Expression attribute names and values, holding exactly those the expressions use
/// (DynamoDB rejects unused ones). Every attribute goes through a name placeholder, since
/// several of ours (`state`) are reserved words.
#[derive(Default)]
struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Placeholders {
    fn name(&mut self, placeholder: &'static str, attribute: &str) -> &'static str {
        self.names
            .insert(placeholder.to_owned(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, placeholder: &'static str, value: AttributeValue) -> &'static str {
        self.values.insert(placeholder.to_owned(), value);
        placeholder
    }

    /// No item, or only an expired one.
    fn create_condition(&mut self, now: i64) -> String {
        let pk = self.name("#pk", PARTITION_KEY);
        let expires = self.name("#expires", TTL_ATTRIBUTE);
        let now = self.value(":now", number(now));
        format!("attribute_not_exists({pk}) OR {expires} <= {now}")
    }

    /// A live item meeting `expect`.
    fn expect_condition(&mut self, expect: &Expect, now: i64) -> String {
        let pk = self.name("#pk", PARTITION_KEY);
        let expires = self.name("#expires", TTL_ATTRIBUTE);
        let now = self.value(":now", number(now));
        let mut condition = format!(
            "attribute_exists({pk}) AND (attribute_not_exists({expires}) OR {expires} > {now})"
        );
        if let Some(version) = expect.version {
            let name = self.name("#version", VERSION_ATTRIBUTE);
            let value = self.value(":expected_version", number(version));
            condition.push_str(&format!(" AND {name} = {value}"));
        }
        if let Some(state) = &expect.state {
            let name = self.name("#state", STATE_ATTRIBUTE);
            let value = self.value(":expected_state", AttributeValue::S(state.clone()));
            condition.push_str(&format!(" AND {name} = {value}"));
        }
        condition
    }

    /// Bumps the version and replaces state, body and expiry; absent state or expiry is
    /// removed rather than stored empty.
    fn change(&mut self, change: &Change) -> RecordsResult<String> {
        let body = validate_body(&change.body)?;
        let version = self.name("#version", VERSION_ATTRIBUTE);
        let one = self.value(":one", number(1));
        let body_name = self.name("#body", BODY_ATTRIBUTE);
        let body_value = self.value(":body", AttributeValue::S(body));
        let mut set = vec![
            format!("{version} = {version} + {one}"),
            format!("{body_name} = {body_value}"),
        ];
        let mut remove = Vec::new();
        let state = self.name("#state", STATE_ATTRIBUTE);
        match &change.state {
            Some(new_state) => {
                let value = self.value(":new_state", AttributeValue::S(new_state.clone()));
                set.push(format!("{state} = {value}"));
            }
            None => remove.push(state),
        }
        let expires = self.name("#expires", TTL_ATTRIBUTE);
        match change.expires_at {
            Some(at) => {
                let value = self.value(":new_expires_at", number(at));
                set.push(format!("{expires} = {value}"));
            }
            None => remove.push(expires),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Ok(expression)
    }

    fn key_condition(&mut self, partition: &str, range: &SortRange) -> String {
        let pk = self.name("#pk", PARTITION_KEY);
        let partition = self.value(":pk", AttributeValue::S(partition.to_owned()));
        let mut condition = format!("{pk} = {partition}");
        match range {
            SortRange::All => {}
            SortRange::BeginsWith(prefix) => {
                let sk = self.name("#sk", SORT_KEY);
                let prefix = self.value(":prefix", AttributeValue::S(prefix.clone()));
                condition.push_str(&format!(" AND begins_with({sk}, {prefix})"));
            }
            SortRange::Between(low, high) => {
                let sk = self.name("#sk", SORT_KEY);
                let low = self.value(":low", AttributeValue::S(low.clone()));
                let high = self.value(":high", AttributeValue::S(high.clone()));
                condition.push_str(&format!(" AND {sk} BETWEEN {low} AND {high}"));
            }
        }
        condition
    }

    fn live_filter(&mut self, now: i64) -> String {
        let expires = self.name("#expires", TTL_ATTRIBUTE);
        let now = self.value(":now", number(now));
        format!("attribute_not_exists({expires}) OR {expires} > {now}")
    }
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key_item(partition: &str, sort: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            PARTITION_KEY.to_owned(),
            AttributeValue::S(partition.to_owned()),
        ),
        (SORT_KEY.to_owned(), AttributeValue::S(sort.to_owned())),
    ])
}

/// The item of a new record at version 1; validates its body.
fn new_item(record: &NewRecord) -> RecordsResult<HashMap<String, AttributeValue>> {
    let body = validate_body(&record.body)?;
    let mut item = key_item(&record.key.partition, &record.key.sort);
    item.insert(VERSION_ATTRIBUTE.to_owned(), number(1));
    item.insert(BODY_ATTRIBUTE.to_owned(), AttributeValue::S(body));
    if let Some(state) = &record.state {
        item.insert(STATE_ATTRIBUTE.to_owned(), AttributeValue::S(state.clone()));
    }
    if let Some(at) = record.expires_at {
        item.insert(TTL_ATTRIBUTE.to_owned(), number(at));
    }
    Ok(item)
}

/// An item's expiry (Unix seconds), if it has one.
fn decode_expiry(item: &HashMap<String, AttributeValue>) -> RecordsResult<Option<i64>> {
    let corrupt = |what: String| RecordsError::Internal(format!("DynamoDB item has {what}"));
    match item.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .map(Some)
            .map_err(|_| corrupt(format!("expiry {n}"))),
        None => Ok(None),
        Some(_) => Err(corrupt("a non-numeric expiry".into())),
    }
}

/// The counter value among `attributes` (an item, or what an update returned).
fn decode_counter(
    key: &RecordKey,
    attributes: Option<&HashMap<String, AttributeValue>>,
) -> RecordsResult<i64> {
    match attributes.and_then(|item| item.get(COUNTER_ATTRIBUTE)) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().map_err(|_| {
            RecordsError::Internal(format!("counter {key} holds {n}, beyond a 64-bit integer"))
        }),
        _ => Err(RecordsError::Invalid(format!("{key} is not a counter"))),
    }
}

fn decode_item(item: &HashMap<String, AttributeValue>) -> RecordsResult<Record> {
    let corrupt = |what: &str| RecordsError::Internal(format!("DynamoDB item has {what}"));
    let string = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        None => Ok(None),
        Some(_) => Err(corrupt(&format!("a non-string {name}"))),
    };
    let required = |name: &str| string(name)?.ok_or_else(|| corrupt(&format!("no {name}")));
    let key = RecordKey::new(required(PARTITION_KEY)?, required(SORT_KEY)?);
    let version = match item.get(VERSION_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|_| corrupt(&format!("version {n}")))?,
        _ => return Err(corrupt("no numeric version")),
    };
    let expires_at = decode_expiry(item)?;
    let body = serde_json::from_str(&required(BODY_ATTRIBUTE)?)
        .map_err(|e| corrupt(&format!("a body that is not JSON ({e})")))?;
    Ok(Record {
        key,
        version,
        state: string(STATE_ATTRIBUTE)?,
        body,
        expires_at,
    })
}

/// The first write whose condition failed, or why else DynamoDB cancelled the transaction.
fn cancellation_error(
    table: &str,
    reasons: &[CancellationReason],
    keys: &[RecordKey],
) -> RecordsError {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|reason| reason.code().unwrap_or("None"))
        .collect();
    if let Some(index) = codes
        .iter()
        .position(|code| *code == "ConditionalCheckFailed")
    {
        if let Some(key) = keys.get(index) {
            return RecordsError::TransactionConflict {
                index,
                key: key.clone(),
            };
        }
    }
    let summary = codes.join(", ");
    if codes.contains(&"ResourceNotFoundException") {
        return RecordsError::Unavailable(format!(
            "DynamoDB table {table} does not exist (transaction cancelled: {summary})"
        ));
    }
    let retryable = codes
        .iter()
        .all(|code| *code == "None" || RETRYABLE_CANCELLATIONS.contains(code));
    if retryable {
        RecordsError::Unavailable(format!(
            "DynamoDB transaction on {table} cancelled: {summary}"
        ))
    } else {
        RecordsError::Internal(format!(
            "DynamoDB transaction on {table} cancelled: {summary}"
        ))
    }
}

/// Network trouble, throttling and server errors are retryable; a missing table is too (it
/// may be being deployed), but says so; anything else is a bug or misconfiguration.
fn records_error(table: &str, failure: SdkFailure) -> RecordsError {
    if failure.code() == "ResourceNotFoundException" {
        RecordsError::Unavailable(format!(
            "DynamoDB table {table} does not exist: {}",
            failure.detail
        ))
    } else if failure.retryable {
        RecordsError::Unavailable(failure.detail)
    } else {
        RecordsError::Internal(failure.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn update_expression_uses_exactly_its_placeholders() {
        let mut placeholders = Placeholders::default();
        let change = Change {
            state: None,
            body: json!({"a": 1}),
            expires_at: Some(5),
        };
        let update = placeholders.change(&change).unwrap_or_default();
        let condition = placeholders.expect_condition(&Expect::version(3).and_state("Queued"), 9);
        let text = format!("{update} {condition}");
        assert_eq!(
            update,
            "SET #version = #version + :one, #body = :body, #expires = :new_expires_at \
             REMOVE #state"
        );
        for placeholder in placeholders.names.keys().chain(placeholders.values.keys()) {
            assert!(text.contains(placeholder.as_str()), "{placeholder} unused");
        }
        assert_eq!(
            placeholders.values.get(":expected_version"),
            Some(&number(3))
        );
    }

    #[test]
    fn item_round_trips_and_omits_absent_attributes() {
        let record = NewRecord::new(RecordKey::new("p", "s"), json!({"x": [1, "two"]}));
        let item = new_item(&record).unwrap_or_default();
        assert!(!item.contains_key(STATE_ATTRIBUTE));
        assert!(!item.contains_key(TTL_ATTRIBUTE));
        let decoded = decode_item(&item).ok();
        assert_eq!(
            decoded.map(|r| (r.key, r.version, r.body)),
            Some((record.key, 1, record.body))
        );

        let expiring = NewRecord::new(RecordKey::new("p", "s"), json!(null))
            .with_state("Queued")
            .expiring_at(42);
        let decoded = new_item(&expiring).and_then(|item| decode_item(&item)).ok();
        assert_eq!(
            decoded.map(|r| (r.state, r.expires_at)),
            Some((Some("Queued".to_owned()), Some(42)))
        );
    }

    #[test]
    fn sdk_failures_are_classified() {
        let classify = |status, code| {
            records_error(
                "t",
                SdkFailure::service(status, Some(code), RETRYABLE_CODES, "d".into()),
            )
        };
        assert!(classify(400, "ProvisionedThroughputExceededException").is_retryable());
        assert!(classify(500, "InternalServerError").is_retryable());
        assert!(classify(503, "Whatever").is_retryable());
        let missing = classify(400, "ResourceNotFoundException");
        assert!(
            matches!(&missing, RecordsError::Unavailable(m) if m.contains("table t does not exist")),
            "{missing:?}"
        );
        assert!(matches!(
            classify(400, "ValidationException"),
            RecordsError::Internal(_)
        ));
    }

    #[test]
    fn cancellation_reports_the_first_failed_condition_else_retry_or_internal() {
        let keys = vec![
            RecordKey::new("p", "a"),
            RecordKey::new("p", "b"),
            RecordKey::new("p", "c"),
        ];
        let conflict = cancellation_error(
            "t",
            &[
                reason("None"),
                reason("ConditionalCheckFailed"),
                reason("ConditionalCheckFailed"),
            ],
            &keys,
        );
        assert!(matches!(
            conflict,
            RecordsError::TransactionConflict { index: 1, ref key } if key == &keys[1]
        ));
        let busy = cancellation_error("t", &[reason("None"), reason("TransactionConflict")], &keys);
        assert!(busy.is_retryable());
        let odd = cancellation_error("t", &[reason("ValidationError")], &keys);
        assert!(matches!(odd, RecordsError::Internal(_)));
    }
}
