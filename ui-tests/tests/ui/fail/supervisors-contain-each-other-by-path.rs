mod m {
    suture::supervisor! {
        pub struct Outer {
            inner: self::Inner,
            leaf: suture::Supervisor,
        }

        pub struct Inner {
            outer: crate::m::Outer,
        }
    }
}

fn main() {}
