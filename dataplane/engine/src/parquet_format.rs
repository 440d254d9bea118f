//! The field types of the Parquet format's Thrift structures that the decoder reads by field
//! id (footer and page headers), for `parquet_guard`. The decoder reads a known field as its
//! format type whatever type the field's header declares, so the guard refuses a known field
//! declared with another type: then the guard's walk and the decoder's read agree byte for
//! byte. Unknown fields the decoder skips, as the guard does. (From the Parquet format's
//! `parquet.thrift`; a field it adds later is unknown here and walked as the decoder skips it.)

/// A Thrift structure (or union) of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    FileMetaData,
    SchemaElement,
    LogicalType,
    DecimalType,
    TimeType,
    TimeUnit,
    IntType,
    VariantType,
    GeometryType,
    GeographyType,
    /// the empty structures (logical types without parameters, `TypeDefinedOrder`, ...)
    Empty,
    RowGroup,
    ColumnChunk,
    ColumnMetaData,
    Statistics,
    SizeStatistics,
    GeospatialStatistics,
    BoundingBox,
    PageEncodingStats,
    SortingColumn,
    KeyValue,
    ColumnOrder,
    EncryptionAlgorithm,
    AesGcm,
    ColumnCryptoMetaData,
    EncryptionWithColumnKey,
    PageHeader,
    DataPageHeader,
    DictionaryPageHeader,
    DataPageHeaderV2,
}

/// A field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    Binary,
    Struct(Kind),
    List(Elem),
}

/// A list's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    I32,
    I64,
    Binary,
    Struct(Kind),
}

/// The type of field `id` of `kind`, `None` for a field the decoder does not know.
pub(crate) fn field(kind: Kind, id: i16) -> Option<Ty> {
    use Elem as E;
    use Kind as K;
    use Ty::*;
    Some(match (kind, id) {
        (K::FileMetaData, 1) => I32,
        (K::FileMetaData, 2) => List(E::Struct(K::SchemaElement)),
        (K::FileMetaData, 3) => I64,
        (K::FileMetaData, 4) => List(E::Struct(K::RowGroup)),
        (K::FileMetaData, 5) => List(E::Struct(K::KeyValue)),
        (K::FileMetaData, 6) => Binary,
        (K::FileMetaData, 7) => List(E::Struct(K::ColumnOrder)),
        (K::FileMetaData, 8) => Struct(K::EncryptionAlgorithm),
        (K::FileMetaData, 9) => Binary,

        (K::SchemaElement, 1..=3 | 5..=9) => I32,
        (K::SchemaElement, 4) => Binary,
        (K::SchemaElement, 10) => Struct(K::LogicalType),

        (K::LogicalType, 5) => Struct(K::DecimalType),
        (K::LogicalType, 7 | 8) => Struct(K::TimeType),
        (K::LogicalType, 10) => Struct(K::IntType),
        (K::LogicalType, 16) => Struct(K::VariantType),
        (K::LogicalType, 17) => Struct(K::GeometryType),
        (K::LogicalType, 18) => Struct(K::GeographyType),
        (K::LogicalType, 1..=4 | 6 | 11..=15) => Struct(K::Empty),
        (K::DecimalType, 1 | 2) => I32,
        (K::TimeType, 1) => Bool,
        (K::TimeType, 2) => Struct(K::TimeUnit),
        (K::TimeUnit, 1..=3) => Struct(K::Empty),
        (K::IntType, 1) => I8,
        (K::IntType, 2) => Bool,
        (K::VariantType, 1) => I8,
        (K::GeometryType, 1) => Binary,
        (K::GeographyType, 1) => Binary,
        (K::GeographyType, 2) => I32,

        (K::RowGroup, 1) => List(E::Struct(K::ColumnChunk)),
        (K::RowGroup, 2 | 3 | 5 | 6) => I64,
        (K::RowGroup, 4) => List(E::Struct(K::SortingColumn)),
        (K::RowGroup, 7) => I16,

        (K::ColumnChunk, 1 | 9) => Binary,
        (K::ColumnChunk, 2 | 4 | 6) => I64,
        (K::ColumnChunk, 3) => Struct(K::ColumnMetaData),
        (K::ColumnChunk, 5 | 7) => I32,
        (K::ColumnChunk, 8) => Struct(K::ColumnCryptoMetaData),

        (K::ColumnMetaData, 1 | 4 | 15) => I32,
        (K::ColumnMetaData, 2) => List(E::I32),
        (K::ColumnMetaData, 3) => List(E::Binary),
        (K::ColumnMetaData, 5..=7 | 9..=11 | 14) => I64,
        (K::ColumnMetaData, 8) => List(E::Struct(K::KeyValue)),
        (K::ColumnMetaData, 12) => Struct(K::Statistics),
        (K::ColumnMetaData, 13) => List(E::Struct(K::PageEncodingStats)),
        (K::ColumnMetaData, 16) => Struct(K::SizeStatistics),
        (K::ColumnMetaData, 17) => Struct(K::GeospatialStatistics),

        (K::Statistics, 1 | 2 | 5 | 6) => Binary,
        (K::Statistics, 3 | 4) => I64,
        (K::Statistics, 7 | 8) => Bool,
        (K::SizeStatistics, 1) => I64,
        (K::SizeStatistics, 2 | 3) => List(E::I64),
        (K::GeospatialStatistics, 1) => Struct(K::BoundingBox),
        (K::GeospatialStatistics, 2) => List(E::I32),
        (K::BoundingBox, 1..=8) => Double,
        (K::PageEncodingStats, 1..=3) => I32,
        (K::SortingColumn, 1) => I32,
        (K::SortingColumn, 2 | 3) => Bool,
        (K::KeyValue, 1 | 2) => Binary,
        (K::ColumnOrder, 1) => Struct(K::Empty),
        (K::EncryptionAlgorithm, 1 | 2) => Struct(K::AesGcm),
        (K::AesGcm, 1 | 2) => Binary,
        (K::AesGcm, 3) => Bool,
        (K::ColumnCryptoMetaData, 1) => Struct(K::Empty),
        (K::ColumnCryptoMetaData, 2) => Struct(K::EncryptionWithColumnKey),
        (K::EncryptionWithColumnKey, 1) => List(E::Binary),
        (K::EncryptionWithColumnKey, 2) => Binary,

        (K::PageHeader, 1..=4) => I32,
        (K::PageHeader, 5) => Struct(K::DataPageHeader),
        (K::PageHeader, 6) => Struct(K::Empty),
        (K::PageHeader, 7) => Struct(K::DictionaryPageHeader),
        (K::PageHeader, 8) => Struct(K::DataPageHeaderV2),
        (K::DataPageHeader, 1..=4) => I32,
        (K::DataPageHeader, 5) => Struct(K::Statistics),
        (K::DictionaryPageHeader, 1 | 2) => I32,
        (K::DictionaryPageHeader, 3) => Bool,
        (K::DataPageHeaderV2, 1..=6) => I32,
        (K::DataPageHeaderV2, 7) => Bool,
        (K::DataPageHeaderV2, 8) => Struct(K::Statistics),
        _ => return None,
    })
}
