//! The actor's life: the roster rebuilt from the journal on start, and the idle stop.

use std::sync::Arc;
use std::time::Duration;

use oneclass_storage::MemoryJournal;

use super::support::*;
use crate::limits::Limits;
use crate::roster::Member;
use crate::school::{GetMember, Leave, ListMembers, RemoveMember, UpsertMember};

fn member(user: &str) -> Member {
    // unwrap: a literal member.
    serde_json::from_value(serde_json::json!({"user": user, "role": "parent", "classes": ["c1"]}))
        .unwrap()
}

fn all_members() -> ListMembers {
    ListMembers {
        class: None,
        after: None,
        limit: 100,
    }
}

#[actix_rt::test]
async fn a_new_actor_rebuilds_the_roster_from_the_journal() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let first = start(journal.clone(), Limits::default());
    for user in ["p1", "p2"] {
        let upsert = UpsertMember {
            actor: "admin".into(),
            member: member(user),
        };
        first.send(upsert).await.unwrap().unwrap();
    }
    let remove = RemoveMember {
        actor: "admin".into(),
        user: "p1".into(),
    };
    assert!(first.send(remove).await.unwrap().unwrap());
    let second = start(journal.clone(), Limits::default());
    let page = second.send(all_members()).await.unwrap();
    assert_eq!(page.members, [member("p2")]);
    let gone = second.send(GetMember { user: "p1".into() }).await.unwrap();
    assert_eq!(gone, None);
}

#[actix_rt::test]
async fn an_actor_without_sessions_stops_after_school_idle_and_not_before() {
    tokio::time::pause();
    let limits = Limits {
        school_idle: Duration::from_secs(60),
        ..Limits::default()
    };
    let school = start(Arc::new(MemoryJournal::new()), limits);
    join(&school, 1, "p1").await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(
        school.send(all_members()).await.is_ok(),
        "a joined session keeps the actor"
    );
    school.send(Leave { session: 1 }).await.unwrap();
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert!(school.send(all_members()).await.is_ok());
    // The idle check runs every 30 s, so the stop comes within one check after `school_idle`.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        school.send(all_members()).await.is_err(),
        "the idle actor stopped"
    );
}
