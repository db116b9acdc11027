/**
 * Table types of the kaas database, one interface per table. Times are ISO-8601 UTC text
 * (same format everywhere, so they compare as strings on both engines); booleans are 0/1
 * integers; JSON documents are text.
 */
export interface Database {
  kaas_meta: KaasMetaTable;
}

/** Key/value facts about the installation itself (e.g. when it was first set up). */
export interface KaasMetaTable {
  key: string;
  value: string;
}
