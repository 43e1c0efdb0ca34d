//! The one definition of every token standard: its chain family and its fields with their
//! types, limits and defaults. `GET /v1/standards` serialises it and the validator walks it,
//! so the form a client builds and the checks the server makes cannot disagree.

use serde::Serialize;

use crate::networks::ChainFamily;

/// How an amount is held on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = AmountWidth)]
pub enum Width {
    /// Algorand ASA totals.
    U64,
    /// ERC-20 and ARC-200 supplies.
    U256,
}

/// The type of a field, with its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = FieldKind)]
pub enum Kind {
    /// Text whose length is counted in UTF-8 bytes, as the chain stores it.
    Text {
        min_bytes: usize,
        max_bytes: usize,
    },
    /// The token's decimals.
    Decimals {
        min: u8,
        max: u8,
    },
    /// A decimal string in whole-token units, converted with the standard's decimals.
    Amount {
        width: Width,
    },
    Boolean,
    AlgorandAddress,
    EvmAddress,
    /// An absolute URL with one of these schemes.
    Url {
        max_bytes: usize,
        schemes: &'static [&'static str],
    },
    /// 32 bytes, as base64 or 64 hex digits.
    Hash32,
    /// A list of distinct names (security token partitions).
    NameList {
        max_items: usize,
        max_bytes: usize,
    },
    /// Document references: `{name, uri, sha256}`.
    Documents {
        max_items: usize,
    },
    /// ARC-3 metadata (see [`super::arc3`]).
    Arc3Metadata,
}

/// What happens when a field is absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "when_absent", content = "value", rename_all = "snake_case")]
#[schema(as = FieldPresence)]
pub enum Presence {
    Required,
    Optional,
    /// A literal default.
    Default(DefaultValue),
    /// The signed-in user's own account of the standard's chain family.
    DefaultsToOwnAccount,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = FieldDefault)]
pub enum DefaultValue {
    Bool(bool),
    Number(u8),
    Text(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = StandardField)]
pub struct Field {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: Kind,
    pub presence: Presence,
    pub description: &'static str,
}

/// A rule across fields, shown in the catalogue and enforced by the validator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StandardRule)]
pub enum Rule {
    /// `cap` ≥ `initial_supply`; a mintable token without a cap gets a warning.
    CapAtLeastInitialSupply,
    /// Pure NFT: total 1 and decimals 0.
    PureNft,
    /// Fractional NFT: decimals ≥ 1 and total 1 whole token (10^decimals base units).
    FractionalNft,
    /// ARC-3: the asset is marked ARC-3 (URL ending `#arc3`, or name `arc3` / ending `@arc3`).
    Arc3Marked,
    /// A fungible ASA with neither clawback nor freeze cannot be controlled later (warning).
    ControllableAsa,
}

impl Rule {
    pub fn description(self) -> &'static str {
        match self {
            Rule::CapAtLeastInitialSupply => {
                "cap must be at least initial_supply; a mintable token without a cap gets a warning"
            }
            Rule::PureNft => "a pure NFT has total 1 and decimals 0",
            Rule::FractionalNft => {
                "a fractional NFT has decimals of at least 1 and a total of 1 whole token (10^decimals base units)"
            }
            Rule::Arc3Marked => {
                "an ARC-3 asset's URL ends with #arc3 (or its name is arc3 or ends with @arc3); the URL and metadata hash are set from the metadata when absent"
            }
            Rule::ControllableAsa => {
                "warning: a fungible ASA with neither a clawback nor a freeze address cannot be controlled later"
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Standard {
    pub id: &'static str,
    pub title: &'static str,
    pub family: ChainFamily,
    pub fields: &'static [Field],
    pub rules: &'static [Rule],
}

impl Standard {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|field| field.name == name)
    }

    pub fn is_arc3(&self) -> bool {
        self.rules.contains(&Rule::Arc3Marked)
    }
}

/// Algorand limits (consensus parameters) and the EVM limits the old system used.
pub mod limits {
    pub const ASA_NAME_BYTES: usize = 32;
    pub const ASA_UNIT_BYTES: usize = 8;
    pub const ASA_URL_BYTES: usize = 96;
    pub const ASA_MAX_DECIMALS: u8 = 19;
    pub const ERC20_NAME_BYTES: usize = 50;
    pub const ERC20_SYMBOL_BYTES: usize = 10;
    pub const ERC20_MAX_DECIMALS: u8 = 18;
    /// ARC-200 stores name and symbol as `byte[32]` and `byte[8]`.
    pub const ARC200_NAME_BYTES: usize = 32;
    pub const ARC200_SYMBOL_BYTES: usize = 8;
    pub const ARC200_MAX_DECIMALS: u8 = 18;
    pub const PARTITIONS: usize = 16;
    pub const PARTITION_NAME_BYTES: usize = 32;
    pub const DOCUMENTS: usize = 16;
}

use limits::*;

const fn text(
    name: &'static str,
    max_bytes: usize,
    presence: Presence,
    description: &'static str,
) -> Field {
    Field {
        name,
        kind: Kind::Text {
            min_bytes: 1,
            max_bytes,
        },
        presence,
        description,
    }
}

const fn field(
    name: &'static str,
    kind: Kind,
    presence: Presence,
    description: &'static str,
) -> Field {
    Field {
        name,
        kind,
        presence,
        description,
    }
}

const ALGORAND_URL_SCHEMES: &[&str] = &["https", "ipfs"];

macro_rules! asa_fields {
    ($($extra:expr),* $(,)?) => {
        &[
            text("asset_name", ASA_NAME_BYTES, Presence::Required, "Asset name (an), at most 32 bytes"),
            text("unit_name", ASA_UNIT_BYTES, Presence::Required, "Unit name (un), at most 8 bytes"),
            field("total", Kind::Amount { width: Width::U64 }, Presence::Required, "Total supply in whole tokens, as a decimal string"),
            field("decimals", Kind::Decimals { min: 0, max: ASA_MAX_DECIMALS }, Presence::Default(DefaultValue::Number(0)), "Decimals (dc), 0 to 19"),
            field("url", Kind::Url { max_bytes: ASA_URL_BYTES, schemes: ALGORAND_URL_SCHEMES }, Presence::Optional, "Asset URL (au), https or ipfs, at most 96 bytes"),
            field("metadata_hash", Kind::Hash32, Presence::Optional, "Metadata hash (am): 32 bytes as base64 or hex"),
            field("default_frozen", Kind::Boolean, Presence::Default(DefaultValue::Bool(false)), "Whether holdings start frozen (df)"),
            field("manager", Kind::AlgorandAddress, Presence::DefaultsToOwnAccount, "Manager address (m); defaults to your account"),
            field("reserve", Kind::AlgorandAddress, Presence::Optional, "Reserve address (r)"),
            field("freeze", Kind::AlgorandAddress, Presence::Optional, "Freeze address (f)"),
            field("clawback", Kind::AlgorandAddress, Presence::Optional, "Clawback address (c)"),
            $($extra,)*
        ]
    };
}

const ARC3_METADATA: Field = field(
    "metadata",
    Kind::Arc3Metadata,
    Presence::Required,
    "ARC-3 metadata (name, description, image, ...); stored as JSON and hashed into metadata_hash",
);

const EVM_RECEIVER: Field = field(
    "receiver",
    Kind::EvmAddress,
    Presence::DefaultsToOwnAccount,
    "Who receives the initial supply; defaults to your EVM account",
);

const ALGORAND_RECEIVER: Field = field(
    "receiver",
    Kind::AlgorandAddress,
    Presence::DefaultsToOwnAccount,
    "Who receives the initial supply; defaults to your Algorand account",
);

/// The fields every supply token (ERC-20, ARC-200, security token) starts with: name, symbol
/// and decimals with the family's limits, then the supply fields given.
macro_rules! token_fields {
    ($name_bytes:expr, $symbol_bytes:expr, $max_decimals:expr, $default_decimals:expr; $($supply:expr),* $(,)?) => {
        &[
            text("name", $name_bytes, Presence::Required, "Token name (UTF-8 bytes, see max_bytes)"),
            text("symbol", $symbol_bytes, Presence::Required, "Symbol (UTF-8 bytes, see max_bytes)"),
            field(
                "decimals",
                Kind::Decimals { min: 0, max: $max_decimals },
                Presence::Default(DefaultValue::Number($default_decimals)),
                "Decimals (see min and max)",
            ),
            $($supply,)*
        ]
    };
}

const INITIAL_SUPPLY: Field = field(
    "initial_supply",
    Kind::Amount { width: Width::U256 },
    Presence::Required,
    "Minted at deployment, in whole tokens",
);

const CAP: Field = field(
    "cap",
    Kind::Amount { width: Width::U256 },
    Presence::Optional,
    "Maximum supply, in whole tokens; at least the initial supply",
);

const TOTAL_SUPPLY: Field = field(
    "total_supply",
    Kind::Amount { width: Width::U256 },
    Presence::Required,
    "The whole supply, in whole tokens",
);

pub static STANDARDS: &[Standard] = &[
    Standard {
        id: "erc20-mintable",
        title: "ERC-20, mintable with a cap",
        family: ChainFamily::Evm,
        fields: token_fields!(ERC20_NAME_BYTES, ERC20_SYMBOL_BYTES, ERC20_MAX_DECIMALS, 18; INITIAL_SUPPLY, CAP, EVM_RECEIVER),
        rules: &[Rule::CapAtLeastInitialSupply],
    },
    Standard {
        id: "erc20-preminted",
        title: "ERC-20, fixed supply minted at deployment",
        family: ChainFamily::Evm,
        fields: token_fields!(ERC20_NAME_BYTES, ERC20_SYMBOL_BYTES, ERC20_MAX_DECIMALS, 18; TOTAL_SUPPLY, EVM_RECEIVER),
        rules: &[],
    },
    Standard {
        id: "asa-ft",
        title: "Algorand Standard Asset, fungible",
        family: ChainFamily::Algorand,
        fields: asa_fields!(),
        rules: &[Rule::ControllableAsa],
    },
    Standard {
        id: "asa-nft",
        title: "Algorand Standard Asset, pure NFT",
        family: ChainFamily::Algorand,
        fields: asa_fields!(),
        rules: &[Rule::PureNft],
    },
    Standard {
        id: "asa-fnft",
        title: "Algorand Standard Asset, fractional NFT",
        family: ChainFamily::Algorand,
        fields: asa_fields!(),
        rules: &[Rule::FractionalNft],
    },
    Standard {
        id: "arc3-ft",
        title: "ARC-3 fungible token",
        family: ChainFamily::Algorand,
        fields: asa_fields!(ARC3_METADATA),
        rules: &[Rule::Arc3Marked, Rule::ControllableAsa],
    },
    Standard {
        id: "arc3-nft",
        title: "ARC-3 pure NFT",
        family: ChainFamily::Algorand,
        fields: asa_fields!(ARC3_METADATA),
        rules: &[Rule::Arc3Marked, Rule::PureNft],
    },
    Standard {
        id: "arc3-fnft",
        title: "ARC-3 fractional NFT",
        family: ChainFamily::Algorand,
        fields: asa_fields!(ARC3_METADATA),
        rules: &[Rule::Arc3Marked, Rule::FractionalNft],
    },
    Standard {
        id: "arc200-mintable",
        title: "ARC-200 smart-contract token, mintable with a cap",
        family: ChainFamily::Algorand,
        fields: token_fields!(ARC200_NAME_BYTES, ARC200_SYMBOL_BYTES, ARC200_MAX_DECIMALS, 6; INITIAL_SUPPLY, CAP, ALGORAND_RECEIVER),
        rules: &[Rule::CapAtLeastInitialSupply],
    },
    Standard {
        id: "arc200-preminted",
        title: "ARC-200 smart-contract token, fixed supply",
        family: ChainFamily::Algorand,
        fields: token_fields!(ARC200_NAME_BYTES, ARC200_SYMBOL_BYTES, ARC200_MAX_DECIMALS, 6; TOTAL_SUPPLY, ALGORAND_RECEIVER),
        rules: &[],
    },
    Standard {
        id: "security-token",
        title: "Security token (ARC-200 based, with transfer controls)",
        family: ChainFamily::Algorand,
        fields: token_fields!(ARC200_NAME_BYTES, ARC200_SYMBOL_BYTES, ARC200_MAX_DECIMALS, 0;
            INITIAL_SUPPLY,
            CAP,
            ALGORAND_RECEIVER,
            field(
                "controller",
                Kind::AlgorandAddress,
                Presence::DefaultsToOwnAccount,
                "Controller: may force transfers, freeze and redeem; defaults to your account",
            ),
            field(
                "whitelist_only",
                Kind::Boolean,
                Presence::Default(DefaultValue::Bool(true)),
                "Transfers only between whitelisted holders",
            ),
            field(
                "partitions",
                Kind::NameList {
                    max_items: PARTITIONS,
                    max_bytes: PARTITION_NAME_BYTES,
                },
                Presence::Optional,
                "Partition names (tranches), distinct, at most 16 of 32 bytes",
            ),
            field(
                "documents",
                Kind::Documents {
                    max_items: DOCUMENTS,
                },
                Presence::Optional,
                "Documents: {name, uri (https or ipfs), sha256 (64 hex digits)}",
            ),
        ),
        rules: &[Rule::CapAtLeastInitialSupply],
    },
];

pub fn find(id: &str) -> Option<&'static Standard> {
    STANDARDS.iter().find(|standard| standard.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn there_are_eleven_standards_with_unique_ids_and_fields() {
        assert_eq!(STANDARDS.len(), 11);
        let mut ids = HashSet::new();
        for standard in STANDARDS {
            assert!(ids.insert(standard.id));
            let mut names = HashSet::new();
            for field in standard.fields {
                assert!(
                    names.insert(field.name),
                    "{} repeats {}",
                    standard.id,
                    field.name
                );
            }
        }
    }

    #[test]
    fn every_amount_standard_has_its_decimals_field() {
        for standard in STANDARDS {
            let has_amount = standard
                .fields
                .iter()
                .any(|field| matches!(field.kind, Kind::Amount { .. }));
            if has_amount {
                assert!(standard.field("decimals").is_some(), "{}", standard.id);
            }
        }
    }
}
