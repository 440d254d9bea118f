//! ManualCompaction's options and GetCompactionState's answer.

use quarry_engine::CompactionProgress;
use quarry_proto::common::CompactionState;
use quarry_proto::service::{GetCompactionStateResponse, ManualCompactionRequest};

use super::{success, ConvResult};

/// What a manual compaction asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionOptions {
    /// clustering compaction (pymilvus `is_clustering`)
    pub major: bool,
}

/// The request's options; the ones Quarry cannot honour are refused, not ignored.
pub fn compaction_options(r: &ManualCompactionRequest) -> ConvResult<CompactionOptions> {
    if r.l0_compaction {
        return Err(
            "L0 compaction is not supported: Quarry keeps no L0 delete segments \
                    (deletes are merged by the regular compaction)"
                .into(),
        );
    }
    if r.partition_id != 0 || !r.channel.is_empty() || !r.segment_ids.is_empty() {
        return Err(
            "compacting chosen partitions, channels or segments is not supported: \
                    compact the whole collection"
                .into(),
        );
    }
    if r.target_size != 0 {
        return Err("target_size is not supported: segments are sized by --segment-rows".into());
    }
    Ok(CompactionOptions {
        major: r.major_compaction,
    })
}

pub fn compaction_state(p: CompactionProgress) -> GetCompactionStateResponse {
    GetCompactionStateResponse {
        status: success(),
        state: if p.done() {
            CompactionState::Completed
        } else {
            CompactionState::Executing
        } as i32,
        executing_plan_no: p.executing as i64,
        timeout_plan_no: 0,
        completed_plan_no: p.completed as i64,
        failed_plan_no: 0,
    }
}
