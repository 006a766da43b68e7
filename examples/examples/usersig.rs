//! Make a UserSig the way a school's server does, for trying the API by hand.
//!
//! `cargo run -p txcr-examples --example usersig -- 1400000000 SECRET_KEY teacher [expire_secs]`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(app), Some(key), Some(user)) = (
        args.first().and_then(|a| a.parse().ok()),
        args.get(1),
        args.get(2),
    ) else {
        eprintln!("usage: usersig SDKAPPID SECRET_KEY USER_ID [EXPIRE_SECONDS]");
        std::process::exit(2);
    };
    let expire = args.get(3).and_then(|e| e.parse().ok()).unwrap_or(86_400);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!("{}", txcr_auth::gen_user_sig(app, key, user, expire, now));
}
