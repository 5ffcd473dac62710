use suture::Service;

#[derive(Service)]
enum Job {
    Once,
    Forever,
}

fn main() {}
