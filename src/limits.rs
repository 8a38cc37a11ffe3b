//! Bybit's default per-UID request limits (protocol.md §4.1, the "UTA2.0 Pro"
//! table, and Bybit's rate-limit page for the asset and user groups): one
//! table for the order manager's local budget and for the simulator's limiter.
//!
//! Contract: pure, allocation-free.

use crate::ids::Category;

/// Endpoints with a per-UID limit (the order endpoints and the private GETs).
/// The order manager budgets the order endpoints; the simulator limits all.
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
    /// `GET /v5/order/history`.
    OrderHistory,
    /// `GET /v5/asset/coin/query-info`.
    CoinInfo,
    /// `GET /v5/user/query-api`.
    QueryApi,
    /// `GET /v5/account/info`.
    AccountInfo,
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
        // Order history shares the row of /v5/order/realtime and
        // /v5/execution/list, every category.
        Endpoint::Realtime
        | Endpoint::PositionList
        | Endpoint::ExecutionList
        | Endpoint::OrderHistory => 50,
        Endpoint::WalletBalance => 50,
        // The asset table: 5 req/s.
        Endpoint::CoinInfo => 5,
        // The user table: 10 req/s.
        Endpoint::QueryApi => 10,
        // Not in Bybit's tables; the account group's GETs (wallet-balance
        // etc.) are 50/s.
        Endpoint::AccountInfo => 50,
    }
}
