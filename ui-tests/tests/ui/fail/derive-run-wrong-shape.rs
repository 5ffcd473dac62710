use suture::{Context, Service, ServiceResult};

#[derive(Service)]
struct NotAsync;

impl NotAsync {
    fn run(&mut self, _ctx: Context) -> ServiceResult {
        Ok(())
    }
}

#[derive(Service)]
#[service(method = go)]
struct WrongReturn;

impl WrongReturn {
    async fn go(&mut self, _ctx: Context) -> u32 {
        1
    }
}

#[derive(Service)]
struct NoContext;

impl NoContext {
    async fn run(&mut self) -> ServiceResult {
        Ok(())
    }
}

fn main() {}
