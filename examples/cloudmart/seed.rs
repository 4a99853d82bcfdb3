//! The CloudMart seed data: three books and three customers.

use crate::cloudmart::model::{OrderLine, OrderRequest};

/// A catalogue entry with its initial stock.
#[derive(Debug, Clone, Copy)]
pub struct Book {
    /// Book id.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Initial stock.
    pub stock: u32,
    /// Price in yen.
    pub price: u64,
}

/// A customer with the initial balance of their wallet.
#[derive(Debug, Clone, Copy)]
pub struct Customer {
    /// Customer id.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// Initial wallet balance in yen.
    pub wallet: u64,
}

/// The books of the seed.
pub const BOOKS: [Book; 3] = [
    Book {
        id: "book-123",
        title: "クラウド設計パターン集",
        stock: 5,
        price: 3500,
    },
    Book {
        id: "book-456",
        title: "限定版アートブック",
        stock: 0,
        price: 8000,
    },
    Book {
        id: "book-789",
        title: "プログラミング入門",
        stock: 10,
        price: 2800,
    },
];

/// The customers of the seed; 山田一郎's wallet is too small for any book (the payment-failure story).
pub const CUSTOMERS: [Customer; 3] = [
    Customer {
        id: "customer-001",
        name: "田中太郎",
        wallet: 200_000,
    },
    Customer {
        id: "customer-002",
        name: "佐藤花子",
        wallet: 200_000,
    },
    Customer {
        id: "customer-003",
        name: "山田一郎",
        wallet: 1_000,
    },
];

/// The seed book `id`, if any.
#[must_use]
pub fn book(id: &str) -> Option<&'static Book> {
    BOOKS.iter().find(|b| b.id == id)
}

/// Builds an order at catalogue prices; `None` if a book is unknown.
#[must_use]
pub fn order(order_id: &str, customer_id: &str, items: &[(&str, u32)]) -> Option<OrderRequest> {
    let lines = items
        .iter()
        .map(|(id, quantity)| {
            book(id).map(|b| OrderLine {
                book_id: b.id.to_owned(),
                quantity: *quantity,
                unit_price: b.price,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(OrderRequest {
        order_id: order_id.to_owned(),
        customer_id: customer_id.to_owned(),
        lines,
    })
}
