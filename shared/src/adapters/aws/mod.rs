//! AWS adapters. Credentials come from the standard provider chain only (the Lambda role in
//! production); the standard `AWS_ENDPOINT_URL` override points them at an emulator in tests.

pub mod dynamodb;
pub mod kms;
pub mod s3;
pub mod sqs;
