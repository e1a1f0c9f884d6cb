use ddbstream::testing::{write_fixture, KeySchema, Table};
use ddbstream::StreamViewType;

#[derive(serde::Serialize)]
struct Like {
    pk: String,
    sk: String,
}

#[test]
fn likes_fixture() {
    let like = |post: &str, user: &str| Like { pk: post.into(), sk: user.into() };
    let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::KeysOnly);
    table.put_value(&like("post#1", "user#a")).unwrap();
    table.put_value(&like("post#1", "user#b")).unwrap();
    table.put_value(&like("post#2", "user#a")).unwrap();
    write_fixture("fixtures/likes.json", &table.stream().records()).unwrap();
}
