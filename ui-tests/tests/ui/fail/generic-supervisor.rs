use suture::supervisor;

supervisor! {
    struct App<W> {
        worker: W,
    }
}

fn main() {}
