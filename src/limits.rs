//! Bybit's default per-UID request limits (protocol.md §4.1, the "UTA2.0 Pro"
//! table): one table for the order manager's local budget and for the
//! simulator's limiter.
//!
//! Contract: pure, allocation-free.

use crate::ids::Category;

/// Endpoints with a per-UID limit (the order endpoints and the private GETs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/v5/order/create`, WS `order.create`.
    Create,
    /// `/v5/order/amend`, WS `order.amend`.
    Amend,
    /// `/v5/order/cancel`, WS `order.cancel`.
    Cancel,
    /// `/v5/order/cancel-all`.
    CancelAll,
    /// `/v5/order/create-batch`, WS `order.create-batch`.
    CreateBatch,
    /// `/v5/order/amend-batch`.
    AmendBatch,
    /// `/v5/order/cancel-batch`.
    CancelBatch,
    /// `GET /v5/order/realtime`.
    Realtime,
    /// `GET /v5/position/list`.
    PositionList,
    /// `GET /v5/execution/list` (same default as `/v5/order/realtime`).
    ExecutionList,
    /// `GET /v5/account/wallet-balance`.
    WalletBalance,
}

/// Bybit's default per-second limit (protocol.md §4.1, "UTA2.0 Pro" table). `category` None means the
/// request named no (valid) category; the linear column applies.
pub fn default_limit(ep: Endpoint, category: Option<Category>) -> u32 {
    let spot = category == Some(Category::Spot);
    match ep {
        Endpoint::Create | Endpoint::Cancel | Endpoint::CancelAll => {
            if spot {
                20
            } else {
                10
            }
        }
        Endpoint::Amend => 10,
        Endpoint::CreateBatch | Endpoint::AmendBatch | Endpoint::CancelBatch => {
            if spot {
                20
            } else {
                10
            }
        }
        Endpoint::Realtime | Endpoint::PositionList | Endpoint::ExecutionList => 50,
        Endpoint::WalletBalance => 50,
    }
}
